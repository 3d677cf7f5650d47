"""Reading and listing tickets: filters, text search and cursor pagination."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.conftest import new_ticket
from tests.schema_check import assert_valid


async def create_many(client, admin, bodies):
    return [
        (await client.post("/api/v1/tickets", json=body, headers=admin)).json() for body in bodies
    ]


async def test_cursor_pagination_walks_every_ticket_once(client, admin) -> None:
    await create_many(client, admin, [new_ticket(subject=f"t{i}") for i in range(7)])
    seen, cursor = [], None
    while True:
        url = "/api/v1/tickets?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=admin)).json()
        for item in page["items"]:
            assert_valid(item, "ticket.schema.json")
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 8))


async def test_bad_cursor_is_400(client, admin) -> None:
    response = await client.get("/api/v1/tickets?cursor=garbage", headers=admin)
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["message"]


async def test_filters_by_status_unit_and_text(client, admin) -> None:
    await create_many(
        client,
        admin,
        [
            new_ticket(subject="SRM timeout at DESY"),
            new_ticket(subject="CREAM CE down", description="jobs refused", support_unit="DMSU"),
            new_ticket(subject="Docs typo", description="the 100% wrong_word in srm guide"),
        ],
    )

    async def ids(query: str) -> list[int]:
        response = await client.get(f"/api/v1/tickets?{query}", headers=admin)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert await ids("status=assigned") == [2]
    assert await ids("status=new&status=assigned") == [1, 2, 3]
    assert await ids("support_unit=DMSU") == [2]
    assert await ids("support_unit=NOPE") == []
    assert await ids("q=srm") == [1, 3]
    assert await ids("q=100%25") == [3]
    assert await ids("q=wrong_word") == [3]
    assert await ids("q=CE%20down&support_unit=DMSU") == [2]


async def test_updated_since_returns_only_later_changes(client, admin) -> None:
    await create_many(client, admin, [new_ticket(), new_ticket()])
    await asyncio.sleep(0.01)
    mark = datetime.now(UTC).isoformat()
    await client.patch("/api/v1/tickets/1", json={"priority": "urgent"}, headers=admin)
    response = await client.get("/api/v1/tickets", params={"updated_since": mark}, headers=admin)
    assert [t["id"] for t in response.json()["items"]] == [1]


async def test_bad_filter_value_names_the_parameter(client, admin) -> None:
    response = await client.get("/api/v1/tickets?status=done", headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"].startswith("status")
    response = await client.get("/api/v1/tickets?limit=0", headers=admin)
    assert response.json()["error"]["details"][0]["field"] == "limit"


async def test_missing_ticket_is_404(client, admin) -> None:
    response = await client.get("/api/v1/tickets/404", headers=admin)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "ticket #404 not found"}}


async def test_text_search_pages_are_the_first_matches_whichever_way_they_are_found(
    client, admin, monkeypatch
) -> None:
    """Common text (found by the walk), rare text (by the trigram indexes) and text common only
    further on (by the planner's walk) give the same pages as reading every ticket would."""
    from gateway.ticket import search

    monkeypatch.setattr(search, "WALK", 4)
    monkeypatch.setattr(search, "CANDIDATES", 3)
    subjects = [
        "pool full",
        "pool full",
        "disk",
        "pool full",
        "disk",
        "disk",
        "rare host se1.fzk.example.org",
        "disk",
        "late word",
        "late word",
        "late word",
        "late word",
        "Rare host SE1.FZK.example.org",
        "late word",
    ]
    await create_many(client, admin, [new_ticket(subject=s) for s in subjects])

    async def pages(text: str) -> list[list[int]]:
        found, cursor = [], None
        while True:
            url = f"/api/v1/tickets?q={text}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = (await client.get(url, headers=admin)).json()
            found.append([item["id"] for item in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    assert await pages("pool") == [[1, 2], [4]]
    assert await pages("se1.fzk") == [[7, 13]]
    assert await pages("late") == [[9, 10], [11, 12], [14]]
    assert await pages("nowhere") == [[]]
    disk_and_late = await pages("d")
    assert [i for page in disk_and_late for i in page] == [3, 5, 6, 8, 9, 10, 11, 12, 14]


async def test_the_indexes_are_probed_without_the_words_most_tickets_hold(
    app, client, admin, monkeypatch
) -> None:
    """`example.org` in (nearly) every ticket is left out of the probe of a host name; what the
    probe finds is still checked for the whole name, so `.example.net` is not a match."""
    from sqlalchemy import select

    from gateway.ticket import search
    from gateway.ticket.tables import TicketRow

    monkeypatch.setattr(search, "WALK", 4)
    hosts = ["se1.fzk.example.org", "se1.fzk.example.net", "se2.fzk.example.org"]
    bodies = [new_ticket(subject=f"storage at {i}.example.org") for i in range(40)]
    bodies += [new_ticket(subject=f"disk full at {host}") for host in hosts * 2]
    await create_many(client, admin, bodies)
    sample = select(TicketRow.subject, TicketRow.description).subquery()
    async with app.state.sessionmaker() as session:
        assert await search.probe(session, "SE1.fzk.example.org", sample) == "SE1.fzk."
        assert await search.probe(session, "fzk.example.org", sample) == "fzk."
        assert await search.probe(session, "org/se1.fzk/org", sample) == "/se1.fzk/"  # ends kept
        assert await search.probe(session, "example.org", sample) == "example.org"  # no other
        assert await search.probe(session, "q.example.org", sample) == "q.example.org"  # short
        assert await search.probe(session, "se1 'zq%''_k'", sample) == "se1 'zq%''_k'"  # all rare
    response = await client.get("/api/v1/tickets?q=se1.fzk.example.org", headers=admin)
    assert [t["subject"] for t in response.json()["items"]] == [f"disk full at {hosts[0]}"] * 2
    response = await client.get("/api/v1/tickets?q=fzk.example.org", headers=admin)
    assert [t["id"] for t in response.json()["items"]] == [41, 43, 44, 46]
