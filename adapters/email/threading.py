"""Our own Message-IDs: derived from the delivery, so a retried send carries the same id, and a
reply's In-Reply-To or References names the hub ticket without a lookup table.

`<t{hub id}.{idempotency key}@{our domain}>`; the key (`gw-<outbox id>`) makes it unique.
"""

from __future__ import annotations

import re


def message_id(hub_id: int, idempotency_key: str, domain: str) -> str:
    key = re.sub(r"[^A-Za-z0-9.-]", "-", idempotency_key)[:64]
    return f"<t{hub_id}.{key}@{domain}>"


def ticket_in_ids(ids: list[str], domain: str) -> int | None:
    """The hub id named by the newest of our Message-IDs among `ids` (References are oldest
    first), or None when none of them is ours."""
    pattern = re.compile(rf"^<t(\d{{1,10}})\.[A-Za-z0-9.-]+@{re.escape(domain)}>$", re.IGNORECASE)
    for value in reversed(ids):
        match = pattern.match(value.strip())
        if match:
            return int(match.group(1))
    return None
