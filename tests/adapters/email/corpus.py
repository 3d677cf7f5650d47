"""Mail as real clients write it, built in code (no binary fixtures): each function returns the
raw bytes of one message. The reply shapes take the same keyword arguments, so end-to-end tests
can thread them into a ticket:

    raw = gmail_reply(subject="Re: [GGUS #12] Disk full", in_reply_to="<t12.gw-1@gw.example>",
                      sender="ann@example.org", body="It is fixed.")

`REPLIES` maps a shape's name to its function; `QUOTED` and `SIGNATURE` are the default quoted
history and signature text, which `reply_text` must not contain.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr

HELPDESK = "helpdesk@gateway.example.org"
SENDER = "ann@example.org"
DATE = "Mon, 01 Jan 2024 10:00:00 +0000"
SUBJECT = "Re: [GGUS #12] Disk full on storage01"
BODY = "The disk was replaced this morning, the service is running again."
QUOTED = "Please check the storage element, it rejects all transfers."
SIGNATURE = "Ann Example, Site Admin, Example Tier-2"
QUOTED_SUBJECT = "[GGUS #12] Disk full on storage01"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _headers(
    msg: EmailMessage,
    *,
    sender: str,
    sender_name: str,
    to: str,
    subject: str,
    message_id: str,
    in_reply_to: str | None,
    references: str | None,
) -> None:
    msg["From"] = formataddr((sender_name, sender)) if sender_name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = DATE
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = references or in_reply_to
    elif references:
        msg["References"] = references


def outlook_reply(
    *,
    sender: str = SENDER,
    sender_name: str = "Ann Example",
    to: str = HELPDESK,
    subject: str = "RE: [GGUS #12] Disk full on storage01",
    body: str = BODY,
    quoted: str = QUOTED,
    in_reply_to: str | None = "<t12.gw-1@gateway.example.org>",
    references: str | None = None,
    message_id: str = "<AM0PR01MB1234ABCD@AM0PR01MB1234.eurprd01.prod.outlook.com>",
) -> bytes:
    """Outlook / Exchange: HTML + text alternative, "From: ... Sent: ..." quote header, the
    Thread-Index and TNEF headers, a "Best regards," closing."""
    msg = EmailMessage()
    _headers(
        msg,
        sender=sender,
        sender_name=sender_name,
        to=to,
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
    )
    msg["Thread-Topic"] = QUOTED_SUBJECT
    msg["Thread-Index"] = "AQHaPJ0mYhq7fS1k3E2w3w9fTz9nDrCuIhZw"
    msg["Accept-Language"] = "en-US"
    msg["Content-Language"] = "en-US"
    msg["X-MS-Has-Attach"] = ""
    msg["X-MS-TNEF-Correlator"] = ""
    msg["X-MS-Exchange-Organization-AuthAs"] = "Internal"
    text = (
        f"{body}\r\n\r\nBest regards,\r\n{SIGNATURE}\r\n\r\n"
        "________________________________\r\n"
        f"From: Helpdesk <{HELPDESK}>\r\n"
        "Sent: Monday, January 1, 2024 9:00 AM\r\n"
        f"To: {sender_name} <{sender}>\r\n"
        f"Subject: {QUOTED_SUBJECT}\r\n\r\n{quoted}\r\n"
    ).replace("\r\n", "\n")
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<style>p.MsoNormal{margin:0cm}</style></head><body lang="EN-US">'
        f'<div class="WordSection1"><p class="MsoNormal">{body}</p>'
        '<p class="MsoNormal">&nbsp;</p><p class="MsoNormal">Best regards,<br>'
        f"{SIGNATURE}</p></div>"
        '<hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif">'
        f"<b>From:</b> Helpdesk &lt;{HELPDESK}&gt;<br>"
        "<b>Sent:</b> Monday, January 1, 2024 9:00 AM<br>"
        f"<b>To:</b> {sender_name} &lt;{sender}&gt;<br>"
        f"<b>Subject:</b> {QUOTED_SUBJECT}</font><div>&nbsp;</div></div>"
        f"<div><p>{quoted}</p></div></body></html>"
    )
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg.as_bytes()


def gmail_reply(
    *,
    sender: str = SENDER,
    sender_name: str = "Ann Example",
    to: str = HELPDESK,
    subject: str = SUBJECT,
    body: str = BODY,
    quoted: str = QUOTED,
    in_reply_to: str | None = "<t12.gw-1@gateway.example.org>",
    references: str | None = None,
    message_id: str = "<CAF3x9Zq1w2e3r4t5y6u7i8o9p0@mail.gmail.com>",
) -> bytes:
    """Gmail: multipart/alternative, "On Mon, ... wrote:" and `>` quoting."""
    msg = EmailMessage()
    _headers(
        msg,
        sender=sender,
        sender_name=sender_name,
        to=to,
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
    )
    attribution = f"On Mon, Jan 1, 2024 at 9:00 AM Helpdesk <{HELPDESK}> wrote:"
    text = f"{body}\n\n{attribution}\n\n> {quoted}\n>\n> Helpdesk\n"
    html = (
        f'<div dir="ltr">{body}</div><br><div class="gmail_quote"><div dir="ltr" '
        f'class="gmail_attr">On Mon, Jan 1, 2024 at 9:00 AM Helpdesk &lt;<a href="mailto:'
        f'{HELPDESK}">{HELPDESK}</a>&gt; wrote:<br></div><blockquote class="gmail_quote" '
        f'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204)">{quoted}'
        "<br>Helpdesk</blockquote></div>"
    )
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def thunderbird_reply(
    *,
    sender: str = SENDER,
    sender_name: str = "Ann Example",
    to: str = HELPDESK,
    subject: str = SUBJECT,
    body: str = BODY,
    quoted: str = QUOTED,
    in_reply_to: str | None = "<t12.gw-1@gateway.example.org>",
    references: str | None = None,
    message_id: str = "<8a1b2c3d-4e5f-6789-abcd-ef0123456789@example.org>",
    bottom: bool = False,
) -> bytes:
    """Thunderbird: text/plain format=flowed (soft breaks), `-- ` signature; `bottom` puts the
    new text under the quote, as Thunderbird does by default."""
    msg = EmailMessage()
    _headers(
        msg,
        sender=sender,
        sender_name=sender_name,
        to=to,
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
    )
    msg["User-Agent"] = "Mozilla Thunderbird"
    msg["Content-Language"] = "en-US"
    words = body.split(" ")
    half = max(1, len(words) // 2)
    flowed_body = " ".join(words[:half]) + " \n" + " ".join(words[half:])  # a soft line break
    quote = f"On 01.01.24 09:00, Helpdesk wrote:\n> {quoted}\n"
    signature = f"-- \n{SIGNATURE}\n"
    text = (
        f"{quote}\n{flowed_body}\n\n{signature}"
        if bottom
        else f"{flowed_body}\n\n{signature}\n{quote}"
    )
    msg.set_content(text, params={"format": "flowed"}, cte="8bit")
    return msg.as_bytes()


def apple_mail_reply(
    *,
    sender: str = SENDER,
    sender_name: str = "Anna Beispiel",
    to: str = HELPDESK,
    subject: str = "AW: [GGUS #12] Platte voll auf storage01",
    body: str = "Die Platte wurde heute früh getauscht, der Dienst läuft wieder.",
    quoted: str = QUOTED,
    in_reply_to: str | None = "<t12.gw-1@gateway.example.org>",
    references: str | None = None,
    message_id: str = "<5F1C2D3E-4A5B-6C7D-8E9F-0A1B2C3D4E5F@example.org>",
) -> bytes:
    """Apple Mail, German: "Am ... schrieb ...:" quote header, "Viele Grüße" closing."""
    msg = EmailMessage()
    _headers(
        msg,
        sender=sender,
        sender_name=sender_name,
        to=to,
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
    )
    msg["X-Mailer"] = "Apple Mail (2.3774.300.61.1.2)"
    msg["Mime-Version"] = "1.0 (Mac OS X Mail 16.0 \\(3774.300.61.1.2\\))"
    text = (
        f"{body}\n\nViele Grüße\n{sender_name}\n\n"
        f"> Am 01.01.2024 um 09:00 schrieb Helpdesk <{HELPDESK}>:\n>\n> {quoted}\n>\n"
    )
    html = (
        '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
        f'<body style="overflow-wrap: break-word;">{body}<div><br></div><div>Viele Grüße</div>'
        f'<div>{sender_name}</div><div><br><blockquote type="cite"><div>Am 01.01.2024 um '
        f"09:00 schrieb Helpdesk &lt;{HELPDESK}&gt;:</div><br><div><div>{quoted}</div></div>"
        "</blockquote></div></body></html>"
    )
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg.as_bytes()


def html_only(
    *,
    sender: str = SENDER,
    to: str = HELPDESK,
    subject: str = "Transfers failing",
    message_id: str = "<html-only-1@example.org>",
) -> bytes:
    """A message with only an HTML body: a paragraph, a list, a table, entities, a script."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = DATE
    msg["Message-ID"] = message_id
    html = (
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        "<p>Transfers to <b>storage01</b> fail since 09:00 &amp; nothing gets through.</p>"
        "<ul><li>first error</li><li>second error</li></ul>"
        "<table><tr><td>host</td><td>state</td></tr><tr><td>se01</td><td>down</td></tr></table>"
        "<p>Caf&eacute; &lt;ok&gt;</p></body></html>"
    )
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


def _raw(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers)
    return head + b"\r\n" + body


def charset_message(charset: str, text: str, *, subject: str | None = None) -> bytes:
    """A text/plain body in `charset` (8bit), with an RFC 2047 subject in the same charset."""
    encoded_subject = subject or (
        "=?" + charset + "?B?" + base64.b64encode(text[:20].encode(charset)).decode() + "?="
    )
    return _raw(
        [
            ("From", SENDER),
            ("To", HELPDESK),
            ("Subject", encoded_subject),
            ("Date", DATE),
            ("Message-ID", f"<charset-{charset}@example.org>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", f"text/plain; charset={charset}"),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        text.encode(charset) + b"\r\n",
    )


LATIN1_TEXT = "Grüße aus Köln, die Störung ist behoben. Ça va à merveille."
CP1252_TEXT = "“Smart quotes” \u2013 and the € sign … all fixed."
SHIFT_JIS_TEXT = "ディスクを交換しました。サービスは復旧しています。"


def latin1_message() -> bytes:
    return charset_message("iso-8859-1", LATIN1_TEXT)


def windows1252_message() -> bytes:
    return charset_message("windows-1252", CP1252_TEXT)


def shift_jis_message() -> bytes:
    return charset_message("shift_jis", SHIFT_JIS_TEXT)


def encoded_subject_message() -> bytes:
    """Subject in two encoded words (Q and B, two charsets) around plain text."""
    return _raw(
        [
            ("From", "=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>"),
            ("To", HELPDESK),
            (
                "Subject",
                "=?iso-8859-1?q?Gr=FC=DFe?= =?utf-8?b?IGF1cyBLw7Zsbg==?=\r\n and more",
            ),
            ("Message-ID", "<subject-2047@example.de>"),
            ("Content-Type", "text/plain; charset=us-ascii"),
        ],
        b"plain body\r\n",
    )


def lying_charset_message() -> bytes:
    """Says UTF-8, is ISO-8859-1."""
    return _raw(
        [
            ("From", SENDER),
            ("To", HELPDESK),
            ("Subject", "liar"),
            ("Message-ID", "<liar@example.org>"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        LATIN1_TEXT.encode("latin-1") + b"\r\n",
    )


def unknown_charset_message() -> bytes:
    return _raw(
        [
            ("From", SENDER),
            ("Subject", "=?x-no-such-charset?q?abc?="),
            ("Content-Type", "text/plain; charset=x-no-such-charset"),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        "naïve".encode() + b"\r\n",
    )


def vacation_reply(*, subject: str = "Out of office: " + QUOTED_SUBJECT) -> bytes:
    """An RFC 3834 vacation answer (Auto-Submitted: auto-replied)."""
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = HELPDESK
    msg["Subject"] = subject
    msg["Message-ID"] = "<vacation-1@example.org>"
    msg["In-Reply-To"] = "<t12.gw-1@gateway.example.org>"
    msg["Auto-Submitted"] = "auto-replied (vacation)"
    msg.set_content("I am away until Monday and read no mail.")
    return msg.as_bytes()


def outlook_oof() -> bytes:
    """Exchange's out-of-office answer: no Auto-Submitted, but X-Auto-Response-Suppress."""
    msg = EmailMessage()
    msg["From"] = formataddr(("Ann Example", SENDER))
    msg["To"] = HELPDESK
    msg["Subject"] = "Automatic reply: " + QUOTED_SUBJECT
    msg["Message-ID"] = "<oof-1@example.org>"
    msg["Thread-Index"] = "AQHaPJ0mYhq7fS1k3E2w3w9fTz9nDrCuIhZw"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-MS-Exchange-Inbox-Rules-Loop"] = SENDER
    msg.set_content("I am out of the office until 8 January.")
    return msg.as_bytes()


def bulk_message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "newsletter@example.com"
    msg["To"] = HELPDESK
    msg["Subject"] = "Our newsletter"
    msg["Message-ID"] = "<bulk-1@example.com>"
    msg["Precedence"] = "bulk"
    msg.set_content("News of the week.")
    return msg.as_bytes()


def list_message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "bob@example.net"
    msg["To"] = "wlcg-ops@lists.example.net"
    msg["Subject"] = "[wlcg-ops] downtime"
    msg["Message-ID"] = "<list-1@example.net>"
    msg["List-Id"] = "WLCG operations <wlcg-ops.lists.example.net>"
    msg["List-Unsubscribe"] = "<mailto:wlcg-ops-leave@lists.example.net>"
    msg.set_content("Downtime tomorrow.")
    return msg.as_bytes()


def loop_message(value: str = "gw-1") -> bytes:
    msg = EmailMessage()
    msg["From"] = HELPDESK
    msg["To"] = SENDER
    msg["Subject"] = QUOTED_SUBJECT
    msg["Message-ID"] = "<t12.gw-2@gateway.example.org>"
    msg["X-Gateway-Loop"] = value
    msg.set_content("Our own mail, come back.")
    return msg.as_bytes()


def dsn_bounce(
    *,
    recipient: str = SENDER,
    original_message_id: str = "<t12.gw-1@gateway.example.org>",
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown",
    headers_only: bool = False,
) -> bytes:
    """A Postfix DSN (RFC 3464 multipart/report) for a message of ours; `headers_only` sends
    text/rfc822-headers instead of the whole message/rfc822."""
    boundary = "B0unc3B0undary"
    original = (
        f"From: Helpdesk <{HELPDESK}>\r\nTo: {recipient}\r\nSubject: {QUOTED_SUBJECT}\r\n"
        f"Message-ID: {original_message_id}\r\nDate: {DATE}\r\n"
    )
    original_part = (
        f"Content-Type: text/rfc822-headers\r\n\r\n{original}"
        if headers_only
        else f"Content-Type: message/rfc822\r\n\r\n{original}\r\nThe ticket text.\r\n"
    )
    human = (
        "This is the mail system at host mx.example.org.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        f"<{recipient}>: host mx.example.org said: 550 5.1.1 User unknown\r\n"
        if action == "failed"
        else "Delivery to the following recipient has been delayed:\r\n\r\n"
        f"    {recipient}\r\n\r\nMessage will be retried for 4 more day(s)\r\n"
    )
    body = (
        f"This is a MIME-encapsulated message.\r\n\r\n--{boundary}\r\n"
        "Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"{human}\r\n--{boundary}\r\n"
        "Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.gateway.example.org\r\nX-Postfix-Queue-ID: 4Tx1y2z3\r\n"
        f"Arrival-Date: {DATE}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; mx.example.org\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n\r\n--{boundary}\r\n"
        f"Content-Description: Undelivered Message\r\n{original_part}\r\n--{boundary}--\r\n"
    )
    return _raw(
        [
            ("Return-Path", "<>"),
            ("From", "MAILER-DAEMON@mx.gateway.example.org (Mail Delivery System)"),
            ("To", HELPDESK),
            (
                "Subject",
                "Undelivered Mail Returned to Sender"
                if action == "failed"
                else "Delayed Mail (still being retried)",
            ),
            ("Auto-Submitted", "auto-replied"),
            ("Message-ID", "<20240101100001.4Tx1y2z3@mx.gateway.example.org>"),
            ("MIME-Version", "1.0"),
            (
                "Content-Type",
                f'multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"',
            ),
        ],
        body.encode(),
    )


def delayed_dsn(
    *,
    recipient: str = SENDER,
    original_message_id: str = "<t12.gw-1@gateway.example.org>",
) -> bytes:
    """A DSN saying delivery is delayed (Action: delayed, 4.4.7): not a permanent failure."""
    return dsn_bounce(
        recipient=recipient,
        original_message_id=original_message_id,
        action="delayed",
        status="4.4.7",
        diagnostic="smtp; 451 4.4.7 Delivery time expired, will retry",
    )


def mailer_daemon_bounce(
    *,
    recipient: str = SENDER,
    original_message_id: str = "<t12.gw-1@gateway.example.org>",
) -> bytes:
    """An Exim-style bounce with no DSN: plain text quoting the original headers."""
    text = (
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"  {recipient}\n    host mx.example.org [192.0.2.1]\n"
        "    SMTP error from remote mail server after RCPT TO:<x>:\n"
        "    550 5.1.1 User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        f"Message-ID: {original_message_id}\nFrom: Helpdesk <{HELPDESK}>\n"
        f"To: {recipient}\nSubject: {QUOTED_SUBJECT}\n\nThe ticket text.\n"
    )
    msg = EmailMessage()
    msg["From"] = "Mail Delivery System <Mailer-Daemon@mx.example.org>"
    msg["To"] = HELPDESK
    msg["Subject"] = "Mail delivery failed: returning message to sender"
    msg["Message-ID"] = "<E1rAbCd-0001@mx.example.org>"
    msg.set_content(text)
    return msg.as_bytes()


def attachments_message(
    *,
    sender: str = SENDER,
    subject: str = SUBJECT,
    body: str = "Log and screenshot attached.",
    in_reply_to: str | None = "<t12.gw-1@gateway.example.org>",
) -> bytes:
    """Text and HTML with an inline image (multipart/related), plus a PDF attachment."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = HELPDESK
    msg["Subject"] = subject
    msg["Message-ID"] = "<attachments-1@example.org>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    msg.set_content(body)
    msg.add_alternative(f'<p>{body}</p><img src="cid:image001@example.org">', subtype="html")
    html_part = list(msg.iter_parts())[1]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(
        PNG, "image", "png", cid="<image001@example.org>", filename="image001.png"
    )
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return msg.as_bytes()


def deep_nesting(levels: int = 50, *, text: str = "deep text") -> bytes:
    """`levels` nested multipart/mixed parts with a text part at the bottom."""
    head = "From: ann@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    inner = f"Content-Type: text/plain\r\n\r\n{text}\r\n"
    for level in range(levels, 0, -1):
        boundary = f"b{level}"
        inner = (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{inner}\r\n--{boundary}--\r\n"
        )
    return (head + inner).encode()


def nul_message() -> bytes:
    return _raw(
        [
            ("From", SENDER),
            ("To", HELPDESK),
            ("Subject", "nul\x00 in subject"),
            ("Message-ID", "<nul@example.org>"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        b"body with\x00 a NUL\r\n",
    )


def header_injection() -> bytes:
    """Encoded words hiding CR LF and a Bcc header in the subject and the From display name."""
    return _raw(
        [
            ("From", "=?utf-8?q?Ann=0D=0ABcc=3A_evil=40attacker.example?= <ann@example.org>"),
            ("To", HELPDESK),
            ("Subject", "=?utf-8?q?Hello=0D=0ABcc:_evil@attacker.example?="),
            ("Message-ID", "<inject@example.org>"),
        ],
        b"hi\r\n",
    )


def malformed_from(value: str) -> bytes:
    """A plain message whose From header is `value`, verbatim."""
    return _raw(
        [("From", value), ("To", HELPDESK), ("Subject", "who am I"), ("Message-ID", "<mf@x.org>")],
        b"hello\r\n",
    )


MALFORMED_FROMS = [
    "",
    "not an address",
    "ann@",
    "@example.org",
    "ann@localhost",
    "ann@@example.org",
    "ann@example.org, bob@example.org",
    "Ann <ann@example.org>, Bob <bob@example.org>",
    "<ann@example.org",
    "Ann <ann@example.org> trailing",
    "ann example.org",
    "ann..x@example.org",
    "undisclosed-recipients:;",
]


def authenticated(results: list[str], raw: bytes | None = None) -> bytes:
    """`raw` (default a Gmail reply) with Authentication-Results headers prepended, topmost
    first."""
    head = "".join(f"Authentication-Results: {value}\r\n" for value in results).encode()
    return head + (raw if raw is not None else gmail_reply())


REPLIES: dict[str, Callable[..., bytes]] = {
    "outlook": outlook_reply,
    "gmail": gmail_reply,
    "thunderbird": thunderbird_reply,
    "apple": apple_mail_reply,
}


def reply_to(shape: str = "gmail", **kwargs: object) -> bytes:
    """A reply in one of the `REPLIES` shapes: `reply_to("outlook", in_reply_to="<id>", ...)`."""
    return REPLIES[shape](**kwargs)


def everything() -> dict[str, bytes]:
    """Every message of the corpus, by name (the fuzz test mutates these)."""
    corpus = {name: fn() for name, fn in REPLIES.items()}
    corpus |= {
        "thunderbird_bottom": thunderbird_reply(bottom=True),
        "html_only": html_only(),
        "latin1": latin1_message(),
        "windows1252": windows1252_message(),
        "shift_jis": shift_jis_message(),
        "encoded_subject": encoded_subject_message(),
        "lying_charset": lying_charset_message(),
        "unknown_charset": unknown_charset_message(),
        "vacation": vacation_reply(),
        "oof": outlook_oof(),
        "bulk": bulk_message(),
        "list": list_message(),
        "loop": loop_message(),
        "dsn": dsn_bounce(),
        "dsn_headers_only": dsn_bounce(headers_only=True),
        "delayed": delayed_dsn(),
        "mailer_daemon": mailer_daemon_bounce(),
        "attachments": attachments_message(),
        "deep": deep_nesting(),
        "nul": nul_message(),
        "injection": header_injection(),
    }
    for index, value in enumerate(MALFORMED_FROMS):
        corpus[f"malformed_from_{index}"] = malformed_from(value)
    return corpus
