"""Reading one received mail into plain values: no I/O, no database, never raises.

`parse_mail` takes the raw bytes as they came over SMTP and returns a `ParsedMail`: who sent it
(strictly parsed), the thread ids, the decoded subject, the body as text and the new part of a
reply (quoted history and signature stripped), attachments, and the verdicts the adapter acts on:
`automatic` (never answer it, never open a ticket from it), `bounce` (a delivery failure) and
`auth_failure` (our own trusted mail server says DKIM, SPF or DMARC failed).

Hostile mail is expected: every access to the parsed message is guarded, undecodable text is
replaced and recorded in `problems`, nesting deeper than `MAX_DEPTH` is cut, NULs are removed.
"""

from __future__ import annotations

import codecs
import email.header
import email.message
import email.parser
import email.policy
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from inscriptis import get_text as _html_to_text
from mailparser_reply.parser import EmailMessage as _ReplyMessage

MAX_DEPTH = 20  # multipart nesting read; deeper parts are cut
MAX_PARTS = 1000  # MIME parts read in one message
MAX_HEADER = 16_384  # characters of one header value that are read
MAX_REPLY_TEXT = 200_000  # characters given to reply stripping
MAX_HTML = 2_000_000  # characters of HTML converted to text
MAX_IDS = 100  # ids kept from In-Reply-To / References (the newest)
MAX_ADDRESSES = 500  # addresses kept from To / Cc
REPLY_LANGUAGES = ("en", "de", "fr", "it", "es", "nl")

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Bounce:
    permanent: bool
    recipients: list[str]
    original_message_id: str | None
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str | None
    sender: Address | None
    reply_to: Address | None
    to: list[Address]
    cc: list[Address]
    subject: str
    in_reply_to: list[str]
    references: list[str]
    text: str
    reply_text: str
    attachments: list[MailAttachment]
    automatic: str | None
    bounce: Bounce | None
    auth_failure: str | None
    problems: list[str]
    size: int


# --------------------------------------------------------------------------- header values

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SPACES = re.compile(r"\s+")


def header_safe(value: str, limit: int = 998) -> str:
    """`value` fit for one header line we compose: control characters (CR, LF, NUL...) become
    spaces, whitespace is collapsed, the ends trimmed, the result cut to `limit` characters."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return text[:limit].rstrip()


def _guard(fn: Callable[[], _T], default: _T) -> _T:
    try:
        return fn()
    except Exception:  # noqa: BLE001 (hostile input: any failure means "unreadable")
        return default


def _fix_8bit(value: str) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes: read them as UTF-8 (else cp1252)."""
    if not re.search(r"[\ud800-\udfff]", value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


# WHATWG practice: labels mail clients mean as their Windows supersets.
_CHARSET_ALIASES = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-9": "cp1254",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "utf8": "utf-8",
}


def _decode_bytes(data: bytes, charset: str | None, problems: list[str], what: str) -> str:
    label = (charset or "").strip().strip("\"'").lower()
    if not label:
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            label = "us-ascii"
    codec = _CHARSET_ALIASES.get(label, label)
    shown = header_safe(label, 40)
    try:
        if codecs.lookup(codec).name in {"rot-13", "base64", "hex", "zlib", "bz2", "quopri"}:
            raise LookupError(codec)
        return data.decode(codec)
    except LookupError:
        problems.append(f"{what}: unknown charset {shown!r}, read as UTF-8 with replacement")
        return _guess(data)
    except Exception:  # noqa: BLE001 (UnicodeDecodeError, or a codec failing otherwise)
        pass
    try:
        text = data.decode("utf-8")
        if label not in {"us-ascii", "ascii"}:
            problems.append(f"{what}: not valid {shown}, read as UTF-8")
        return text
    except UnicodeDecodeError:
        problems.append(f"{what}: not valid {shown}, read as windows-1252 with replacement")
        return data.decode("cp1252", "replace")


def _guess(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _decode_words(value: str, problems: list[str], what: str) -> str:
    """RFC 2047 encoded words decoded; broken ones left as they are."""
    value = _fix_8bit(value)
    if "=?" not in value:
        return value
    try:
        parts = email.header.decode_header(value)
    except Exception:  # noqa: BLE001
        problems.append(f"{what}: broken encoded words left as they are")
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset is None:
            out.append(chunk.decode("raw-unicode-escape", "replace"))
        else:
            out.append(_decode_bytes(chunk, charset, problems, what))
    return "".join(out)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", " ").replace("\n", " ")


class _Headers:
    """The raw header values of one message, top to bottom, unfolded and capped."""

    def __init__(self, message: email.message.Message, problems: list[str]) -> None:
        self.values: dict[str, list[str]] = {}
        no_items: list[tuple[str, str]] = []
        items = _guard(lambda: list(message.raw_items()), no_items)
        nul = False
        for name, value in items:
            if not isinstance(name, str) or not isinstance(value, str):
                continue
            if "\x00" in value or "\x00" in name:
                nul = True
                value = value.replace("\x00", "")
            if len(value) > MAX_HEADER:
                problems.append(f"header {header_safe(name, 60)} cut to {MAX_HEADER} characters")
                value = value[:MAX_HEADER]
            self.values.setdefault(name.strip().lower(), []).append(_unfold(value))
        if nul:
            problems.append("NUL bytes removed from headers")

    def all(self, name: str) -> list[str]:
        return self.values.get(name.lower(), [])

    def first(self, name: str) -> str | None:
        values = self.values.get(name.lower())
        return values[0] if values else None


# --------------------------------------------------------------------------- addresses

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"({_LOCAL})@((?:{_LABEL}\.)+{_TLD})")
_SPECIALS = set(",;:@<>[]\\")


def _display_name(raw: str) -> str | None:
    """The display name without its quotes; None when it holds unquoted specials."""
    out: list[str] = []
    quoted = escaped = False
    for char in raw:
        if escaped:
            out.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in _SPECIALS:
            return None
        else:
            out.append(char)
    if quoted or escaped:
        return None
    return "".join(out)


def _addr_spec(value: str) -> str | None:
    match = _ADDR_SPEC.fullmatch(value)
    if match is None:
        try:  # an internationalised domain: keep its ASCII (punycode) form
            local, _, domain = value.rpartition("@")
            if not local or not domain or domain.isascii():
                return None
            match = _ADDR_SPEC.fullmatch(f"{local}@{domain.encode('idna').decode('ascii')}")
        except Exception:  # noqa: BLE001
            return None
        if match is None:
            return None
    local, domain = match.group(1), match.group(2)
    result = f"{local}@{domain.lower()}"
    if len(local) > 64 or len(result) > 254:
        return None
    return result


def parse_address(value: str) -> Address | None:
    """Exactly one `addr-spec` (with optional display name, `Name <a@b.c>` or `a@b.c (Name)`):
    a dot-atom local part and a dotted domain, no CR/LF/NUL, at most 254 characters; else None.
    The domain is lowercased; an encoded display name is decoded and made header-safe."""
    if not isinstance(value, str) or any(c in value for c in "\r\n\x00") or len(value) > 998:
        return None
    value = value.strip()
    name = ""
    if value.endswith(">"):
        start = value.rfind("<")
        if start < 0:
            return None
        spec, raw_name = value[start + 1 : -1].strip(), value[:start].strip()
        decoded = _display_name(raw_name)
        if decoded is None:
            return None
        name = decoded
    else:
        match = re.fullmatch(r"([^\s()<>\"]+)\s*\(([^()\\]*)\)", value)
        if match:
            spec, name = match.group(1), match.group(2)
        else:
            spec = value
    address = _addr_spec(spec)
    if address is None:
        return None
    if "=?" in name:
        name = _decode_words(name, [], "name")
    return Address(name=header_safe(name, 200), email=address)


def _split_addresses(value: str) -> list[str]:
    """A header's address list split at commas (and group ends) outside quotes, <> and ()."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = paren = 0
    for char in value:
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "<":
            angle += 1
        elif char == ">":
            angle = max(0, angle - 1)
        elif char == "(":
            paren += 1
        elif char == ")":
            paren = max(0, paren - 1)
        elif char in ",;" and not angle and not paren:
            pieces.append("".join(current))
            current = []
            continue
        elif char == ":" and not angle and not paren:
            current = []  # a group's name: `team: a@b.c, d@e.f;`
            continue
        current.append(char)
    pieces.append("".join(current))
    return [piece.strip() for piece in pieces if piece.strip()]


def _address_list(values: list[str], problems: list[str], what: str) -> list[Address]:
    result: list[Address] = []
    bad = False
    for value in values:
        for piece in _split_addresses(_fix_8bit(value)):
            address = parse_address(piece)
            if address is None:
                bad = True
            elif len(result) < MAX_ADDRESSES:
                result.append(address)
    if bad:
        problems.append(f"unreadable address in {what} left out")
    return result


# --------------------------------------------------------------------------- message ids

_MSGID = re.compile(r"<([^<>\s@]{1,900}@[^<>\s@]{1,255})>")


def _ids(values: list[str]) -> list[str]:
    found = [f"<{m}>" for value in values for m in _MSGID.findall(value)]
    return found[-MAX_IDS:]


def _message_id(value: str | None) -> str | None:
    """The id in a Message-ID-like header; None for none, or for one that is not ASCII (8-bit
    bytes, read as surrogates, could be stored nowhere)."""
    if value is None:
        return None
    found = _MSGID.findall(value)
    if found:
        return f"<{found[0]}>" if found[0].isascii() else None
    bare = value.strip()
    if bare.isascii() and re.fullmatch(r"[^<>\s@]{1,900}@[^<>\s@]{1,255}", bare):
        return f"<{bare}>"
    return None


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID as `parse_mail` reads it, from the header block alone (the listener reads
    it for every message it accepts; the body is not parsed)."""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw
    try:
        message = _PARSER.parsebytes(head + b"\n\n", headersonly=True)
    except Exception:  # noqa: BLE001 (as _parse: whatever the parser raises is no id)
        return None
    return _message_id(_Headers(message, []).first("message-id"))


# --------------------------------------------------------------------------- MIME walk

_SIGNATURE_TYPES = {
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
}
_HEADER_TYPES = {"text/rfc822-headers", "message/global-headers"}
_STATUS_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_EMBEDDED_TYPES = {"message/rfc822", "message/global"}


def _defect_words(defect: object) -> str:
    name = type(defect).__name__.removesuffix("Defect")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


def _safe_filename(name: str | None) -> str:
    if not name:
        return ""
    name = header_safe(_decode_words(name, [], "filename"), 255)
    name = re.split(r"[/\\]", name)[-1].strip().lstrip(".")
    return name[:255]


def _html_text(html: str, problems: list[str]) -> str:
    if not html.strip():
        return ""
    if len(html) > MAX_HTML:
        problems.append(f"HTML body cut to {MAX_HTML} characters before conversion")
        html = html[:MAX_HTML]
    try:
        return textwrap.dedent(str(_html_to_text(html))).strip("\n")
    except Exception:  # noqa: BLE001
        problems.append("HTML body could not be converted; tags removed crudely")
        return re.sub(r"<[^>]{0,10000}>", " ", html)


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: soft line breaks (a trailing space) joined, stuffing removed."""
    out: list[str] = []
    buffer: str | None = None
    buffer_depth = 0
    for raw_line in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw_line) - len(raw_line.lstrip(">"))
        line = raw_line[depth:]
        if line.startswith(" "):
            line = line[1:]
        prefix = ">" * depth + " " if depth else ""
        if buffer is not None and (depth != buffer_depth or line == "-- "):
            out.append(buffer)
            buffer = None
        if line == "-- " or not line.endswith(" "):
            out.append((buffer if buffer is not None else prefix) + line)
            buffer = None
            continue
        piece = line[:-1] if delsp else line
        buffer = (buffer if buffer is not None else prefix) + piece
        buffer_depth = depth
    if buffer is not None:
        out.append(buffer)
    return "\n".join(out)


class _Walker:
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.texts: list[str] = []
        self.attachments: list[MailAttachment] = []
        self.parts = 0
        self.cut = False
        self.html_left = MAX_HTML  # one budget for all HTML parts of a message, not one each
        self.reports: list[email.message.Message] = []

    def content_type(self, part: email.message.Message) -> str:
        return _guard(lambda: str(part.get_content_type()).lower(), "text/plain")

    def defects(self, part: email.message.Message) -> None:
        no_defects: list[object] = []
        for defect in _guard(lambda: list(part.defects), no_defects):
            self.problems.append(f"broken MIME: {_defect_words(defect)}")

    def payload_bytes(self, part: email.message.Message) -> bytes:
        data = _guard(lambda: part.get_payload(decode=True), None)
        if isinstance(data, bytes):
            return data
        raw: object = _guard(lambda: part.get_payload(), None)
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""

    def text_of(self, part: email.message.Message, ctype: str) -> str:
        charset = _guard(lambda: part.get_content_charset(), None)
        text = _decode_bytes(self.payload_bytes(part), charset, self.problems, "body")
        if ctype == "text/html":
            if self.html_left <= 0:
                self.problems.append("HTML past the message's budget was not converted")
                return ""
            converted = _html_text(text[: self.html_left], self.problems)
            if len(text) > self.html_left:
                self.problems.append(f"HTML cut to {MAX_HTML} characters in all before conversion")
            self.html_left -= len(text)
            return converted
        if _guard(lambda: str(part.get_param("format") or "").lower(), "") == "flowed":
            delsp = _guard(lambda: str(part.get_param("delsp") or "").lower(), "") == "yes"
            text = _unflow(text, delsp)
        return text

    def is_body_text(self, part: email.message.Message, ctype: str) -> bool:
        if ctype not in {"text/plain", "text/html"}:
            return False
        disposition = _guard(lambda: part.get_content_disposition(), None)
        return disposition != "attachment" and not _guard(lambda: part.get_filename(), None)

    def children(self, part: email.message.Message) -> list[email.message.Message] | None:
        payload = _guard(lambda: part.get_payload(), None)
        if isinstance(payload, list):
            return [p for p in payload if isinstance(p, email.message.Message)]
        return None

    def walk(self, part: email.message.Message, depth: int, body: bool) -> None:
        if depth > MAX_DEPTH:
            if not self.cut:
                self.problems.append(f"MIME nesting deeper than {MAX_DEPTH} levels cut")
                self.cut = True
            return
        self.parts += 1
        if self.parts > MAX_PARTS:
            if self.parts == MAX_PARTS + 1:
                self.problems.append(f"more than {MAX_PARTS} MIME parts: the rest ignored")
            return
        self.defects(part)
        ctype = self.content_type(part)
        children = self.children(part) if ctype.startswith(("multipart/", "message/")) else None
        if ctype in _EMBEDDED_TYPES:
            self.embedded(part, children)
            return
        if ctype in _STATUS_TYPES:
            return
        if children is None:
            self.leaf(part, "text/plain" if ctype.startswith("multipart/") else ctype, body)
            return
        if ctype == "multipart/alternative":
            chosen = self.choose_alternative(children)
            for child in children:
                self.walk(child, depth + 1, body and child is chosen)
        elif ctype == "multipart/report":
            self.reports.append(part)
            for index, child in enumerate(children):
                child_type = self.content_type(child)
                if index == 0 or child_type not in _STATUS_TYPES | _HEADER_TYPES | _EMBEDDED_TYPES:
                    self.walk(child, depth + 1, body and index == 0)
        else:
            for child in children:
                self.walk(child, depth + 1, body)

    def choose_alternative(self, children: list[email.message.Message]) -> object:
        plain = html = nested = None
        for child in children:
            ctype = self.content_type(child)
            if ctype == "text/plain" and plain is None and self.is_body_text(child, ctype):
                if self.payload_bytes(child).strip():
                    plain = child
            elif ctype == "text/html" and self.is_body_text(child, ctype):
                html = child
            elif ctype.startswith("multipart/"):
                nested = child
        return plain or nested or html or (children[-1] if children else None)

    def leaf(self, part: email.message.Message, ctype: str, body: bool) -> None:
        if self.is_body_text(part, ctype):
            if body:
                self.texts.append(self.text_of(part, ctype))
            return
        if ctype in _SIGNATURE_TYPES:
            return
        disposition = _guard(lambda: part.get_content_disposition(), None)
        filename = _safe_filename(_guard(lambda: part.get_filename(), None))
        if not filename and disposition != "attachment":
            if ctype.startswith("text/") and body:  # e.g. text/enriched, text/calendar inline
                self.texts.append(self.text_of(part, "text/plain"))
            return
        if not filename:
            filename = f"attachment-{len(self.attachments) + 1}"
        self.attachments.append(MailAttachment(filename, ctype, self.payload_bytes(part)))

    def embedded(
        self, part: email.message.Message, children: list[email.message.Message] | None
    ) -> None:
        inner = children[0] if children else None
        data = b""
        if inner is not None:
            data = _guard(lambda: inner.as_bytes(policy=email.policy.compat32), b"")
        if not data:
            data = self.payload_bytes(part)
        filename = _safe_filename(_guard(lambda: part.get_filename(), None))
        self.attachments.append(MailAttachment(filename or "message.eml", "message/rfc822", data))


# --------------------------------------------------------------------------- reply stripping


class _Reply(_ReplyMessage):  # type: ignore[misc]
    """mailparser_reply without disclaimer removal (it eats lines like "Warning: ... mail") and
    with the signature looked for only in the newest fragment."""

    def _process_signatures_disclaimers(self, text: str) -> tuple[list[str], str]:
        if self.replies:
            return [], ""
        match = self.SIGNATURE_REGEX.search(text)
        return [], match.group() if match else ""


_LONG_LINE = 300
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_DELIMITER = re.compile(r"(?:> ?)*[-_]{2,}\s*")
_QUOTED = re.compile(r"^\s*>")


def _signature_cut(content: str, signature: str) -> str:
    """`content` without `signature` when it looks like one: a `-- ` or underscore delimiter, or
    a short closing line ("Best regards,", "Sent from my iPhone") with a few lines under it.
    mailparser_reply also takes "Thanks, that fixed it." as the start of a signature."""
    signature = signature.strip()
    if not signature:
        return content
    lines = signature.split("\n")
    first = lines[0].strip()
    delimiter = _DELIMITER.fullmatch(first) is not None
    closing = len(lines) <= 8 and len(first.split()) <= 4 and not first.endswith((".", "?", ":"))
    if not (delimiter or closing):
        return content
    index = content.rfind(signature)
    return content[:index] if index >= 0 else content


def _drop_attributions(lines: list[str]) -> list[str]:
    """Without attribution lines the library does not know ("El ... escribió:", Gmail's Dutch
    "Op ... schreef Helpdesk <x>:"): a line ending in `:` right above `>` quoted lines."""
    result: list[str] = []
    for index, line in enumerate(lines):
        if line.rstrip().endswith(":") and not _QUOTED.match(line):
            following = next((n for n in lines[index + 1 :] if n.strip()), "")
            if _QUOTED.match(following):
                continue
        result.append(line)
    return result


def strip_reply(text: str, problems: list[str] | None = None) -> str:
    """The new part of a reply: the first fragment before a quote header ("On ... wrote:",
    "Am ... schrieb", Outlook's "From: ... Sent:"), without its signature and `>` lines; the
    whole text when that leaves nothing."""
    problems = problems if problems is not None else []
    if len(text) > MAX_REPLY_TEXT:
        problems.append(f"text cut to {MAX_REPLY_TEXT} characters for reply stripping")
        text = text[:MAX_REPLY_TEXT]
    long_lines: list[str] = []

    def hide(match: re.Match[str]) -> str:  # long lines: kept out of the library's regexes
        long_lines.append(match.group())
        return f"\ue000{len(long_lines) - 1}\ue001"

    short = re.sub(rf"(?m)^[^\n]{{{_LONG_LINE},}}$", hide, text.replace("\ue000", ""))
    try:
        parsed = _Reply(text=short, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
        parsed.read()
        first = parsed.replies[0]
        content = str(first.content)
        header = str(first.headers or "")
        signature = str(first.signatures or "")
    except Exception:  # noqa: BLE001
        problems.append("reply stripping failed; the whole text kept")
        return text.strip()
    if header and content.startswith(header):
        content = content[len(header) :]
    content = _signature_cut(content, signature)
    kept = [line for line in _drop_attributions(content.split("\n")) if not _QUOTED.match(line)]
    result = "\n".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    result = _PLACEHOLDER.sub(lambda m: long_lines[int(m.group(1))], result)
    return result or text.strip()


# --------------------------------------------------------------------------- verdicts

_DAEMONS = {"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster"}


def _is_daemon(sender: Address | None, raw_from: str | None) -> bool:
    if sender is not None:
        return sender.email.rsplit("@", 1)[0].lower() in _DAEMONS
    return bool(raw_from and re.search(r"(?i)\b(?:mailer[-_]?daemon|postmaster)@", raw_from))


def _automatic(
    headers: _Headers,
    sender: Address | None,
    loop_header: str,
    loop_value: str | None,
    report_type: str | None,
) -> str | None:
    def shown(value: str) -> str:
        return header_safe(value, 60)

    for value in headers.all("auto-submitted"):
        if value.split(";")[0].strip().lower() != "no":
            return f"Auto-Submitted: {shown(value)}"
    for value in headers.all("x-auto-response-suppress"):
        tokens = {t.strip().lower() for t in re.split(r"[,\s]+", value) if t.strip()}
        if tokens & {"all", "autoreply", "oof"}:
            return f"X-Auto-Response-Suppress: {shown(value)}"
    for value in headers.all("precedence"):
        if value.strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
            return f"Precedence: {shown(value)}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Loop"):
        if headers.all(name):
            return f"{name}: {shown(headers.all(name)[0])}"
    for value in headers.all(loop_header):
        if loop_value is None or value.strip().lower() == loop_value.strip().lower():
            return f"{header_safe(loop_header, 60)}: {shown(value)}"
    for value in headers.all("return-path"):
        if re.sub(r"\s", "", value) in {"<>", ""}:
            return "Return-Path: <>"
    if _is_daemon(sender, headers.first("from")):
        local = sender.email.split("@")[0].lower() if sender else "mailer-daemon"
        return f"From: {local}"
    for name in ("List-Id", "List-Unsubscribe"):
        if headers.all(name):
            return f"{name}: {shown(headers.all(name)[0])}"
    if report_type is not None:
        return f"Content-Type: multipart/report; report-type={shown(report_type)}"
    return None


def _auth_failure(headers: _Headers, trusted: str | None) -> str | None:
    """Every fail the trusted server reports, in any of its headers (each milter may write its
    own; a forger could only add fails of its own message)."""
    if not trusted:
        return None
    failures: list[str] = []
    for value in headers.all("authentication-results"):
        text = value
        for _ in range(3):  # comments, nested a little
            text = re.sub(r"\([^()]*\)", " ", text)
        segments = text.split(";")
        authserv = segments[0].strip().split()
        if not authserv or authserv[0].lower() != trusted.strip().lower():
            continue
        results: dict[str, set[str]] = {}
        for segment in segments[1:]:
            match = re.match(r"\s*([A-Za-z0-9_-]+)\s*=\s*([A-Za-z]+)", segment)
            if match:
                results.setdefault(match.group(1).lower(), set()).add(match.group(2).lower())
        failures += [
            f"{method}=fail"
            for method in ("dkim", "spf", "dmarc")
            if "fail" in results.get(method, set())
            and "pass" not in results.get(method, set())
            and f"{method}=fail" not in failures
        ]
    return ", ".join(failures) or None


_STATUS_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def _status_fields(block: email.message.Message | str) -> dict[str, str]:
    fields: dict[str, str] = {}
    if isinstance(block, email.message.Message):
        no_items: list[tuple[str, str]] = []
        items = _guard(lambda: list(block.raw_items()), no_items)
        for name, value in items:
            fields.setdefault(str(name).strip().lower(), _unfold(_fix_8bit(str(value))).strip())
        return fields
    for match in re.finditer(r"(?m)^([A-Za-z-]+):[ \t]*(.*(?:\r?\n[ \t].*)*)", block):
        fields.setdefault(match.group(1).lower(), _unfold(match.group(2)).strip())
    return fields


def _after_type(value: str) -> str:
    """`rfc822; ann@example.org` -> `ann@example.org`; `smtp; 550 ...` -> `550 ...`."""
    return value.split(";", 1)[1].strip() if ";" in value else value.strip()


def _original_id(text: str) -> str | None:
    match = re.search(r"(?im)^message-id:\s*(<[^<>\s]{1,1000}>)", text)
    return _message_id(match.group(1)) if match else None


def _dsn(report: email.message.Message, walker: _Walker) -> Bounce | None:
    blocks: list[dict[str, str]] = []
    original: str | None = None
    for child in walker.children(report) or []:
        ctype = walker.content_type(child)
        if ctype in _STATUS_TYPES:
            payload = _guard(lambda: child.get_payload(), None)  # noqa: B023
            if isinstance(payload, list):
                blocks += [
                    _status_fields(b) for b in payload if isinstance(b, email.message.Message)
                ]
            else:
                text = _guess(walker.payload_bytes(child))
                blocks += [_status_fields(b) for b in re.split(r"\r?\n[ \t]*\r?\n", text)]
        elif ctype in _EMBEDDED_TYPES and original is None:
            inner = next(iter(walker.children(child) or []), None)
            if inner is not None:
                original = _message_id(_Headers(inner, []).first("message-id"))
            if original is None:
                original = _original_id(_guess(walker.payload_bytes(child)))
        elif ctype in _HEADER_TYPES and original is None:
            original = _original_id(_guess(walker.payload_bytes(child)))
    recipients = [b for b in blocks if "action" in b or "final-recipient" in b]
    relevant = [b for b in recipients if b.get("action", "failed").lower() in {"failed", "delayed"}]
    if not relevant:
        return None

    def status(block: dict[str, str]) -> str | None:
        match = _STATUS_CODE.search(block.get("status", ""))
        return match.group() if match else None

    def permanent(block: dict[str, str]) -> bool:
        code = status(block)
        return block.get("action", "failed").lower() == "failed" and (
            code is None or code.startswith("5")
        )

    main = next((b for b in relevant if permanent(b)), relevant[0])
    diagnostic = main.get("diagnostic-code")
    return Bounce(
        permanent=any(permanent(b) for b in relevant),
        recipients=[
            header_safe(_after_type(b.get("final-recipient") or b.get("original-recipient", "")))
            .strip("<>")
            .lower()
            for b in relevant
            if b.get("final-recipient") or b.get("original-recipient")
        ],
        original_message_id=original,
        status=status(main),
        diagnostic=header_safe(_after_type(diagnostic), 500) if diagnostic else None,
    )


_FAILED_ADDRESS = re.compile(
    r"(?im)^[ \t]*<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,63})>?"
    r"[ \t]*(?::|$)"
)


def _heuristic_bounce(text: str, extra: str) -> Bounce | None:
    original = _original_id(extra) or _original_id(text)
    if original is None:
        return None
    head = text[:20_000]
    code = _STATUS_CODE.search(head)
    permanent = bool(
        (code and code.group(1) == "5")
        or re.search(r"(?i)\bpermanent", head)
        or re.search(r"\b55[0-4][ -]", head)
    )
    recipients: list[str] = []
    for match in _FAILED_ADDRESS.finditer(head):
        address = match.group(1).lower()
        if address not in recipients and len(recipients) < 50:
            recipients.append(address)
    diagnostic = None
    if code:
        line_start = head.rfind("\n", 0, code.start()) + 1
        line_end = head.find("\n", code.end())
        diagnostic = header_safe(head[line_start : line_end if line_end >= 0 else None], 500)
    return Bounce(
        permanent=permanent,
        recipients=recipients,
        original_message_id=original,
        status=code.group() if code else None,
        diagnostic=diagnostic,
    )


# --------------------------------------------------------------------------- parse_mail

# compat32 rather than policy.default: the same tree and raw headers (all header decoding here is
# our own), at a fifth of the cost; policy.default re-parses Content-Type through the header
# registry on every access, which made a 5000-part message take two seconds.
_PARSER = email.parser.BytesParser(policy=email.policy.compat32)


def _parse(raw: bytes, problems: list[str]) -> tuple[email.message.Message, str | None]:
    """The parsed message, and the raw body text when only the headers could be parsed."""
    try:
        return _PARSER.parsebytes(raw), None
    except Exception:  # noqa: BLE001 (RecursionError on absurd nesting among others)
        problems.append("message could not be parsed as MIME; its body read as plain text")
    head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    try:
        message = _PARSER.parsebytes(head + b"\n\n", headersonly=True)
    except Exception:  # noqa: BLE001
        message = email.message.EmailMessage()
    return message, _guess(body if sep else b"")


def parse_mail(
    raw: bytes,
    *,
    loop_header: str = "X-Gateway-Loop",
    loop_value: str | None = None,
    trusted_authserv_id: str | None = None,
    strip_replies: bool = True,
) -> ParsedMail:
    """Read one received mail; never raises. See the module docstring. Without
    `strip_replies`, `reply_text` is left empty for the caller to strip when it needs it."""
    problems: list[str] = []
    if not isinstance(raw, bytes | bytearray | memoryview):
        raw = b""
    raw = bytes(raw)
    message, fallback_body = _parse(raw, problems)
    headers = _Headers(message, problems)

    from_values = headers.all("from")
    sender = None
    if len(from_values) > 1:
        problems.append("several From headers: sender unknown")
    elif from_values:
        sender = parse_address(_fix_8bit(from_values[0]).strip())
        if sender is None:
            problems.append("From is not one valid address: sender unknown")
    reply_to_list = _address_list(headers.all("reply-to"), problems, "Reply-To")
    subject_raw = headers.first("subject") or ""
    subject = header_safe(_decode_words(subject_raw, problems, "subject"))

    walker = _Walker(problems)
    if fallback_body is None:
        walker.walk(message, 0, True)
        text = "\n\n".join(t.strip("\n") for t in walker.texts if t.strip())
    else:
        text = fallback_body
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        problems.append("NUL bytes removed from the body")
        text = text.replace("\x00", "")
    text = re.sub(r"[\ud800-\udfff]", "\ufffd", text)

    report_type = None
    bounce = None
    if walker.reports:
        report = walker.reports[0]
        report_type = _guard(lambda: str(report.get_param("report-type") or "").lower(), "")
        if report_type in {"delivery-status", "global-delivery-status"}:
            bounce = _guard(lambda: _dsn(report, walker), None)
    if bounce is None and report_type is None and _is_daemon(sender, headers.first("from")):
        extra = "\n".join(
            _guess(a.data[:50_000])
            for a in walker.attachments
            if a.content_type.startswith(("message/", "text/"))
        )
        bounce = _guard(lambda: _heuristic_bounce(text, extra), None)

    reply_text = strip_reply(text, problems) if strip_replies and text.strip() else ""
    to = _address_list(headers.all("to"), problems, "To")
    cc = _address_list(headers.all("cc"), problems, "Cc")
    return ParsedMail(
        message_id=_message_id(headers.first("message-id")),
        sender=sender,
        reply_to=reply_to_list[0] if reply_to_list else None,
        to=to,
        cc=cc,
        subject=subject,
        in_reply_to=_ids(headers.all("in-reply-to")),
        references=_ids(headers.all("references")),
        text=text,
        reply_text=reply_text,
        attachments=walker.attachments,
        automatic=_automatic(headers, sender, loop_header, loop_value, report_type),
        bounce=bounce,
        auth_failure=_auth_failure(headers, trusted_authserv_id),
        problems=list(dict.fromkeys(problems)),
        size=len(raw),
    )


__all__ = [
    "Address",
    "Bounce",
    "MailAttachment",
    "ParsedMail",
    "header_message_id",
    "header_safe",
    "parse_address",
    "parse_mail",
    "strip_reply",
]
