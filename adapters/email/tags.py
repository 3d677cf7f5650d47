"""The ticket tag in subjects, e.g. `[GGUS #1234]`: how a reply names its ticket.

The tag is configured with an `{id}` placeholder for the hub id; everything else is literal,
matched case-insensitively, with any run of spaces after a `#` (and inside the tag) tolerated.
"""

from __future__ import annotations

import functools
import re

from adapters.email.message import header_safe

PLACEHOLDER = "{id}"
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|odp|ref|rif|r|fw|fwd|wg|tr|rv|enc)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)


def _literal(text: str) -> str:
    out: list[str] = []
    for index, char in enumerate(text):
        if char.isspace():
            if not out or out[-1] != r"\s*":
                out.append(r"\s*")
        else:
            out.append(re.escape(char))
            if char == "#" and index == len(text) - 1:
                out.append(r"\s*")
    return "".join(out)


@functools.lru_cache(maxsize=64)  # asked for every message read and sent; configs have few tags
def ticket_tag_pattern(tag: str) -> re.Pattern[str]:
    """The pattern finding `tag` (with one `{id}`) in a subject; group 1 is the hub id."""
    if tag.count(PLACEHOLDER) != 1:
        raise ValueError(f"the ticket tag must contain {PLACEHOLDER} exactly once: {tag!r}")
    before, after = tag.split(PLACEHOLDER)
    if not (before.strip() or after.strip()):
        raise ValueError(f"the ticket tag needs text around {PLACEHOLDER}: {tag!r}")
    return re.compile(
        rf"{_literal(before)}0*([1-9]\d{{0,9}}){_literal(after)}"
        + (r"(?!\d)" if not after.strip() else ""),
        re.IGNORECASE,
    )


def find_ticket_id(subject: str, pattern: re.Pattern[str]) -> int | None:
    """The hub id of the first tag in `subject`, or None."""
    match = pattern.search(subject or "")
    if match is None:
        return None
    value = int(match.group(1))
    return value if 0 < value < 2**31 else None


def tagged_subject(tag: str, hub_id: int, subject: str) -> str:
    """`subject` with the ticket's tag in front, once: its `Re:`/`Fwd:` prefixes and any copy of
    the same tag removed, the result fit for a header."""
    text = header_safe(subject)
    pattern = ticket_tag_pattern(tag)
    text = pattern.sub(lambda m: m.group() if int(m.group(1)) != hub_id else " ", text)
    while True:
        stripped = _REPLY_PREFIX.sub("", text).strip()
        if stripped == text:
            break
        text = stripped
    text = header_safe(text)
    label = header_safe(tag.replace(PLACEHOLDER, str(hub_id)))
    return header_safe(f"{label} {text}" if text else label)
