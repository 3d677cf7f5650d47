"""One outgoing message for one delivery: recipients, headers that thread and stop loops, and a
plain text body with an HTML alternative from templates an operator can replace.

The message is rendered straight to the bytes that go over SMTP (7-bit, RFC 5322/2045/2047):
building an `EmailMessage` with `policy.default` and flattening it cost ~1.4 ms a message, most
of the CPU of mailing acknowledgements. Headers are RFC 2047-encoded when they are not plain
ASCII, folded so no line is long; bodies are 7bit when short-lined ASCII, else quoted-printable.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from email.charset import Charset
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from adapters.email.config import EmailConfig
from adapters.email.message import header_safe, parse_address
from adapters.email.tags import tagged_subject
from adapters.email.threading import message_id
from gateway.adapter.errors import PermanentError
from gateway.adapter.models import Action, AttachedFile, Delivery

SHIPPED = Path(__file__).resolve().parent / "templates"
LOOP_HEADER = "X-Gateway-Loop"


# RFC 5322 2.1.1: lines SHOULD stay within 78 characters (and MUST within 998)
FOLD_AT = 78
LONGEST_WORD = 900  # a longer unbroken word in a header is sent encoded (encoded words split)
UTF8 = Charset("utf-8")  # headers: base64 encoded words
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]{0,126}/[A-Za-z0-9][\w.+-]{0,126}")
OCTET = "application/octet-stream"
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 atext: a word sent as is


@dataclass(frozen=True, slots=True)
class Outgoing:
    data: bytes  # the whole message, ASCII, lines ending in CRLF, as it goes after DATA
    recipients: list[str]
    message_id: str
    subject: str  # as composed (before encoding), for the log


class Composer:
    """Renders deliveries into messages; templates are read once, at start-up."""

    def __init__(self, config: EmailConfig) -> None:
        self.config = config
        loaders = [FileSystemLoader(str(SHIPPED))]
        if config.templates:
            loaders.insert(0, FileSystemLoader(config.templates))
        self._text = SandboxedEnvironment(
            loader=ChoiceLoader(loaders), undefined=StrictUndefined, autoescape=False
        )
        self._html = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self._domain = config.domain
        self._from = _mailbox("From", header_safe(config.sender_name, 120), config.sender)

    def recipients(self, delivery: Delivery) -> list[str]:
        """Who hears of this delivery: the addresses a notice names, the submitter and cc, or
        the unit's addresses."""
        if delivery.action == Action.NOTICE:
            candidates = [str(a) for a in delivery.changes.get("notice", {}).get("to", [])]
        elif self.config.audience == "unit":
            candidates = list(self.config.unit_addresses)
        else:
            candidates = [delivery.ticket.submitter.email, *delivery.ticket.cc]
        out: list[str] = []
        for candidate in candidates:
            address = parse_address(candidate)
            if address is not None and address.email not in out:
                out.append(address.email)
        return out

    def compose(self, delivery: Delivery, recipients: list[str]) -> Outgoing:
        ticket = delivery.ticket
        config = self.config
        own_id = message_id(ticket.id, delivery.idempotency_key, self._domain)
        context: dict[str, Any] = {
            "audience": config.audience,
            "action": delivery.action.value,
            "ticket": ticket.model_dump(mode="json"),
            "entry": delivery.entry.model_dump(mode="json") if delivery.entry else None,
            "changes": delivery.changes,
            "notice": delivery.changes.get("notice"),
            "tag": config.tag.replace("{id}", str(ticket.id)),
            "attachment": (
                {"filename": file.filename, "size": file.size, "content_type": file.content_type}
                if (file := delivery.attachment)
                else None
            ),
        }
        name = delivery.action.value
        try:
            text = self._text.get_template(f"{name}.txt").render(context)
            html = self._html.get_template(f"{name}.html").render(context)
        except TemplateError as exc:  # an operator's template: say which, do not retry forever
            raise PermanentError(f"mail template {name}: {exc}") from exc
        subject = tagged_subject(config.tag, ticket.id, self._subject(delivery))
        lines = [
            self._from,
            _address_list("To", recipients),
            _header("Subject", subject),
            "Message-ID: " + own_id,
            "Date: " + format_datetime(ticket.updated_at),
        ]
        thread = delivery.remote.remote_id if delivery.remote else None
        if thread and thread.startswith("<") and thread != own_id:
            thread = header_safe(thread)
            lines += [_header("In-Reply-To", thread), _header("References", thread)]
        # RFC 3834: we are a machine; mailers must not answer us automatically.
        lines += [
            "Auto-Submitted: auto-generated",
            "X-Auto-Response-Suppress: All",
            _header(LOOP_HEADER, config.sender),
        ]
        data = _multipart(lines, [("plain", text), ("html", html)], delivery.attachment)
        return Outgoing(data, recipients, own_id, subject)

    @staticmethod
    def _subject(delivery: Delivery) -> str:
        subject = delivery.ticket.subject
        if delivery.action.value == "solve":
            return f"{delivery.ticket.status}: {subject}"
        if delivery.action == Action.NOTICE:
            return str(delivery.changes.get("notice", {}).get("subject") or subject)
        return subject


def _mailbox(header: str, name: str, address: str) -> str:
    """`header: name <address>` with an ASCII `address`. A display name that is not plain ASCII
    is sent as RFC 2047 encoded words, one per run of words that need it: whitespace between
    two encoded words is dropped by RFC 2047 readers but kept by Python's address parser, so
    two are never adjacent (a long run makes a long encoded word, still far below 998)."""
    if name.isascii() and "=?" not in name:
        return f"{header}: {formataddr((name, address))}"
    tokens: list[str] = []
    run: list[str] = []
    for word in name.split(" "):
        if _ATOM.fullmatch(word) and "=?" not in word:
            if run:
                tokens.append(UTF8.header_encode(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.append(UTF8.header_encode(" ".join(run)))
    tokens.append(f"<{address}>")
    out = f"{header}:"
    width = len(out)
    for token in tokens:
        if width + 1 + len(token) > FOLD_AT and width > len(header) + 1:
            out += "\r\n"
            width = 0
        out += " " + token
        width += 1 + len(token)
    return out


def _encoded(value: str, name: str) -> str:
    """`value` as RFC 2047 encoded words (UTF-8), folded for a header called `name`."""
    return Header(value, "utf-8", header_name=name, maxlinelen=FOLD_AT).encode(linesep="\r\n")


def _header(name: str, value: str) -> str:
    """One header line (folded when long); `value` has no CR/LF (`header_safe`)."""
    line = f"{name}: {value}"
    if value.isascii() and "=?" not in value:
        if len(line) <= FOLD_AT:
            return line
        if max(map(len, value.split(" "))) <= LONGEST_WORD:
            folded = Header(value, header_name=name, maxlinelen=FOLD_AT).encode(linesep="\r\n")
            return f"{name}: {folded}"
    return f"{name}: {_encoded(value, name)}"


def _address_list(name: str, addresses: list[str]) -> str:
    """Plain ASCII addresses (`parse_address` made them so), folded between addresses."""
    out = f"{name}:"
    width = len(out)
    for index, address in enumerate(addresses):
        piece = f" {address}" + ("," if index < len(addresses) - 1 else "")
        if width + len(piece) > FOLD_AT and width > len(name) + 1:
            out += "\r\n"
            width = 0
        out += piece
        width += len(piece)
    return out


def _body(text: str) -> tuple[str, bytes]:
    """Transfer encoding and encoded body of one UTF-8 text part, ending in a line break."""
    text = text.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    if (
        text.isascii()
        and "\r" not in text
        and all(len(line) <= FOLD_AT for line in text.split("\n"))
    ):
        return "7bit", text.replace("\n", "\r\n").encode("ascii")
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)  # lines of at most 76
    return "quoted-printable", encoded.replace(b"\n", b"\r\n")


def _multipart(
    headers: list[str], parts: list[tuple[str, str]], file: AttachedFile | None = None
) -> bytes:
    """The message: `headers`, then a multipart/alternative of UTF-8 text `parts`, in order,
    and with a `file` the two inside a multipart/mixed with the file after them (base64)."""
    bodies = [(subtype, *_body(text)) for subtype, text in parts]
    while True:  # quoted-printable never holds "=_"; a 7bit body could, by a chance in 2**96
        boundary = "=_gw_" + secrets.token_hex(12)
        if not any(boundary.encode() in body for _, _, body in bodies):
            break
    out = [
        "\r\n".join(headers).encode("ascii"),
        b"\r\nMIME-Version: 1.0\r\n",
    ]
    mixed = boundary + "_m"  # base64 has no "_": the file never holds it either
    if file is not None:
        out.append(
            f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n\r\n--{mixed}\r\n'.encode()
        )
    out.append(
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii")
    )
    for subtype, encoding, body in bodies:
        out.append(
            f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode("ascii")
        )
        out.append(body)
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    if file is not None:
        out.append(f"--{mixed}\r\n".encode("ascii") + _file_part(file))
        out.append(f"--{mixed}--\r\n".encode("ascii"))
    return b"".join(out)


def _file_part(file: AttachedFile) -> bytes:
    """One attached file: its stored type, its name (RFC 2231 when not plain ASCII), base64."""
    name = header_safe(file.filename, 255) or "attachment"
    if name.isascii() and not re.search(r'["\\]', name):
        named = f'filename="{name}"'
    else:
        named = "filename*=utf-8''" + quote(name, safe="")
    content_type = file.content_type if _MEDIA_TYPE.fullmatch(file.content_type) else OCTET
    head = (
        f"Content-Type: {content_type}\r\n"
        f"Content-Disposition: attachment;\r\n {named}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode("ascii") + base64.encodebytes(file.data).replace(b"\n", b"\r\n")
