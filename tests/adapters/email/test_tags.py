"""The ticket tag in subjects: finding it, writing it once."""

from __future__ import annotations

import pytest

from adapters.email.tags import find_ticket_id, tagged_subject, ticket_tag_pattern

TAG = "[GGUS #{id}]"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[GGUS #12] Disk full", 12),
        ("Re: [GGUS #12] Disk full", 12),
        ("RE: AW: [ggus #1234] x", 1234),
        ("[GGUS #   77] spaces after the hash", 77),
        ("[GGUS  #77] spaces inside", 77),
        ("Fwd: something [GGUS #5] at the end", 5),
        ("[GGUS #5] and [GGUS #6]", 5),
        ("[GGUS #007] leading zeros", 7),
        ("[GGUS #0] zero", None),
        ("[GGUS #12345678901] too long", None),
        ("[GGUS 12] no hash", None),
        ("[GGUS #12 missing bracket", None),
        ("GGUS #12", None),
        ("", None),
    ],
)
def test_find_ticket_id(subject: str, expected: int | None) -> None:
    assert find_ticket_id(subject, ticket_tag_pattern(TAG)) == expected


def test_other_tags_are_literal() -> None:
    pattern = ticket_tag_pattern("(Ticket.{id})")
    assert find_ticket_id("Re: (ticket.42) x", pattern) == 42
    assert find_ticket_id("Re: (ticketX42) x", pattern) is None
    bare = ticket_tag_pattern("#{id}")
    assert find_ticket_id("about #42x", bare) == 42
    assert find_ticket_id("about #421", bare) == 421


@pytest.mark.parametrize("tag", ["[GGUS]", "{id}", "[{id}] {id}", "  {id} "])
def test_bad_tags_are_refused(tag: str) -> None:
    with pytest.raises(ValueError):
        ticket_tag_pattern(tag)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Disk full", "[GGUS #12] Disk full"),
        ("Re: Disk full", "[GGUS #12] Disk full"),
        ("RE: AW: Fwd: Re[2]: Disk full", "[GGUS #12] Disk full"),
        ("Re: [GGUS #12] Disk full", "[GGUS #12] Disk full"),
        ("[ggus # 12] Disk full [GGUS #12]", "[GGUS #12] Disk full"),
        ("[GGUS #13] other ticket", "[GGUS #12] [GGUS #13] other ticket"),
        ("Disk\r\nBcc: evil@x", "[GGUS #12] Disk Bcc: evil@x"),
        ("", "[GGUS #12]"),
        ("Re:", "[GGUS #12]"),
        ("Reply needed", "[GGUS #12] Reply needed"),
    ],
)
def test_tagged_subject(subject: str, expected: str) -> None:
    assert tagged_subject(TAG, 12, subject) == expected


def test_tagged_subject_is_header_safe_and_bounded() -> None:
    result = tagged_subject(TAG, 12, "x\x00" * 2000)
    assert len(result) <= 998 and "\x00" not in result
