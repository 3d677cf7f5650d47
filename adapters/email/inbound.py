"""Received mail into what the hub decides on: the ticket it names and, for a unit's reply, the
commands in its first lines (as Request Tracker's command-by-mail reads them)."""

from __future__ import annotations

from adapters.email.commands import split_commands
from adapters.email.config import EmailConfig
from adapters.email.message import parse_address, parse_mail, strip_reply
from adapters.email.tags import find_ticket_id, ticket_tag_pattern
from adapters.email.threading import ticket_in_ids
from gateway.adapter.mail import IncomingMail, MailBounce, MailPart
from gateway.adapter.models import AddComment, Command, Reassign, SetStatus, Solve
from gateway.ticket.enums import Status

MAX_TEXT = 60_000
STATUS_WORDS = {s.value: s for s in Status} | {"inprogress": Status.IN_PROGRESS}


def read_mail(raw: bytes, config: EmailConfig) -> IncomingMail:
    mail = parse_mail(
        raw,
        loop_value=config.sender,
        trusted_authserv_id=config.trusted_authserv_id,
        strip_replies=False,
    )
    problems = list(mail.problems)
    hub_id = find_ticket_id(mail.subject, ticket_tag_pattern(config.tag))
    bounce = None
    if mail.bounce is not None:
        detail = " ".join(p for p in (mail.bounce.status, mail.bounce.diagnostic) if p)
        recipients = [a.email.lower() for r in mail.bounce.recipients if (a := parse_address(r))]
        original = mail.bounce.original_message_id
        ours = ticket_in_ids([original], config.domain) if original else None
        bounce = MailBounce(mail.bounce.permanent, recipients, detail[:1000], ours)
        hub_id = ours or hub_id  # the message that bounced names the ticket best
    if hub_id is None:
        hub_id = ticket_in_ids([*mail.references, *mail.in_reply_to], config.domain)
    # only a message naming a ticket becomes an entry; one naming none opens a ticket with its
    # whole text, so its quotes are not looked for (6 % of the CPU of reading a new problem)
    replies = hub_id is not None and mail.text.strip()
    reply_text = strip_reply(mail.text, problems) if replies else ""
    return IncomingMail(
        message_id=mail.message_id,
        sender=mail.sender.email.lower() if mail.sender else None,
        sender_name=mail.sender.name if mail.sender else "",
        cc=[a.email.lower() for a in mail.cc],
        subject=mail.subject,
        text=mail.text,
        reply_text=reply_text,
        attachments=[MailPart(a.filename, a.content_type, a.data) for a in mail.attachments],
        hub_id=hub_id,
        automatic=mail.automatic,
        bounce=bounce,
        auth_failure=mail.auth_failure,
        problems=list(dict.fromkeys(problems)),
    )


def unit_commands(mail: IncomingMail, author: str) -> list[Command]:
    """`Status: solved|unsolved` (the rest of the reply is the solution), `Status: <state>`,
    `Assign: <unit>`; the rest of the reply is a public entry when no solution carries it."""
    found, rest = split_commands(mail.reply_text)
    rest = rest.strip()
    commands: list[Command] = []
    solution_taken = False
    for key, value in found:
        key, value = key.lower(), value.strip()
        if key == "status":
            status = STATUS_WORDS.get(value.lower())
            if status in (Status.SOLVED, Status.UNSOLVED):
                solution = rest or "(no solution text was given)"
                commands.append(Solve(status=status, solution=solution[:MAX_TEXT]))
                solution_taken = True
            elif status is not None:
                commands.append(SetStatus(status=status))
        elif key == "assign" and value:
            commands.append(Reassign(support_unit=value[:64]))
    if rest and not solution_taken:
        commands.insert(0, AddComment(body=rest[:MAX_TEXT], author=author[:255]))
    if not commands:
        commands.append(AddComment(body="(the reply had no text)", author=author[:255]))
    return commands
