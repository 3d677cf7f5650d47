"""Text search on PostgreSQL: the tickets of a page that contain a text, the planner aside.

A page is the first matches in hub-id order. Left alone, PostgreSQL picks between walking the
primary key and filtering, and the trigram indexes (migration 0013), by its estimate of how many
tickets match; that estimate comes from a sample and is wrong by a hundredfold for words in a few
hundred tickets of a million, and a cached generic plan does not look at the text at all. The
wrong pick walks most of the table (a second at a million tickets). So the page is found in
three bounded steps, each a plan that cannot go wrong on its own terms:

1. walk the next `WALK` tickets in hub-id order: enough when the text is common;
2. otherwise ask the trigram indexes for at most `CANDIDATES` tickets after those that contain
   the text's *probe* (below), and keep those that contain the whole text: when there are
   fewer, they are all of them, and the page is their first ids;
3. otherwise the text is common further on, and the planner's own walk finds it quickly.

The probe is the longest run of the text's words that are not each in nearly every ticket: a host
name `se3.cern-17.example.org` is probed as `se3.cern-17.`, the separator on either side kept so
that the last word ends there (without it `cern-1` would also find `cern-17`'s tickets, and
checking ten times the candidates costs more than the left-out words). A run shorter than a trigram
is not a probe. The index reads one list of tickets per trigram of the probe; `example.org`'s lists
hold nearly every ticket (three times the time of the rest) and leaving out a word in 90 % of
tickets lets at most a ninth more candidates through, checked for the whole text anyway. How common
a word is comes from the tickets the first step walked (the planner's estimate costs more to ask
than it saves).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Subquery, func, or_, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.ticket.tables import TicketRow

WALK = 1_000
CANDIDATES = 5_000
SAMPLE = 200  # of the walked tickets, to tell how common each word of the text is
COMMON = 0.9  # a word in more than this share of the walked tickets is left out of the probe
_WORD = re.compile(r"[^\W_]+")  # pg_trgm's words: letters and digits
_PLANNER = ("enable_indexscan", "enable_seqscan")


def contains(
    text: str,
    subject: ColumnElement[str] = TicketRow.subject,  # type: ignore[assignment]
    description: ColumnElement[str] = TicketRow.description,  # type: ignore[assignment]
) -> ColumnElement[bool]:
    """Case-insensitive substring of subject or description; `%`, `_` and `\\` match themselves."""
    pattern = _pattern(text)
    return or_(
        func.lower(subject).like(pattern, escape="\\"),
        func.lower(description).like(pattern, escape="\\"),
    )


def _pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def page_ids(
    session: AsyncSession,
    *,
    conditions: Sequence[ColumnElement[bool]],
    text: str,
    after: int,
    limit: int,
) -> list[int]:
    """The first `limit` ids after `after` that meet the conditions and contain the text."""
    ahead = select(TicketRow.id).where(*conditions, TicketRow.id > after).order_by(TicketRow.id)
    walked = ahead.add_columns(TicketRow.subject, TicketRow.description).limit(WALK).subquery()
    hits = list(
        (
            await session.execute(
                select(walked.c.id)
                .where(contains(text, walked.c.subject, walked.c.description))
                .order_by(walked.c.id)
                .limit(limit)
            )
        ).scalars()
    )
    if len(hits) == limit:
        return hits
    edge = (await session.execute(ahead.offset(WALK - 1).limit(1))).scalar()
    if edge is None:  # the walk saw every ticket left
        return hits
    later = [*conditions, TicketRow.id > edge]
    sample = ahead.add_columns(TicketRow.subject, TicketRow.description).limit(SAMPLE).subquery()
    probed = await probe(session, text, sample)
    candidates = await _from_indexes(session, later, text, probed)
    if candidates is not None:
        return [*hits, *sorted(candidates)[: limit - len(hits)]]
    rest = await session.execute(
        select(TicketRow.id)
        .where(*later, contains(text))
        .order_by(TicketRow.id)
        .limit(limit - len(hits))
    )
    return [*hits, *rest.scalars()]


async def probe(session: AsyncSession, text: str, sample: Subquery) -> str:
    """The part of the text the trigram indexes are asked for: a substring of it, so every
    ticket containing the text contains the probe (see the module's docstring). `sample` is
    the walk's tickets (subject and description), for how common each word is."""
    words = list(_WORD.finditer(text))
    if len(words) < 2:
        return text
    both = (func.lower(sample.c.subject) + "\n" + func.lower(sample.c.description)).label("t")
    seen = select(both).subquery()
    shares = select(
        func.count(),
        *(
            func.count().filter(seen.c.t.like(_pattern(word.group()), escape="\\"))
            for word in words
        ),
    )
    total, *counts = (await session.execute(shares)).one()
    rare = [count <= COMMON * total for count in counts]
    best: tuple[int, int] | None = None  # the longest run of rare words, as a span of the text
    start = None
    for word, is_rare in zip(words, rare, strict=True):
        if not is_rare:
            start = None
            continue
        start = word.start() if start is None else start
        if best is None or word.end() - start > best[1] - best[0]:
            best = (start, word.end())
    if best is None or all(rare) or best[1] - best[0] < 3:  # shorter has no trigram to ask
        return text
    start, end = max(best[0] - 1, 0), min(best[1] + 1, len(text))  # the separators around
    return text[start:end]


async def _from_indexes(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], text: str, probed: str
) -> list[int] | None:
    """The ids that contain the text, by bitmap scans of the indexes for the probe (in no
    order); None when the probe finds `CANDIDATES` or more, as then some may be missing.

    The whole text is checked outside the subquery, where the planner cannot take it to the
    indexes as well. The planner is kept from walking the primary key for this one statement
    and then given its settings back; they are local to the transaction, so an error in between
    undoes them too.
    """
    off = ", ".join(
        f"current_setting('{name}'), set_config('{name}', 'off', true)" for name in _PLANNER
    )
    before = (await session.execute(sql(f"SELECT {off}"))).one()
    found = (
        select(TicketRow.id, TicketRow.subject, TicketRow.description)
        .where(*conditions, contains(probed))
        .limit(CANDIDATES)
        .subquery()
    )
    rows = await session.execute(
        select(found.c.id, contains(text, found.c.subject, found.c.description))
    )
    candidates = rows.all()
    back = ", ".join(f"set_config('{name}', :v{i}, true)" for i, name in enumerate(_PLANNER))
    values = {f"v{i}": before[2 * i] for i in range(len(_PLANNER))}
    await session.execute(sql(f"SELECT {back}"), values)
    if len(candidates) >= CANDIDATES:
        return None
    return [id_ for id_, matches in candidates if matches]
