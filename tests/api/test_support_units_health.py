"""Support unit routes, health and readiness."""

from __future__ import annotations

from gateway.api.app import create_app
from gateway.settings import Settings


async def test_configured_units_are_listed(client, admin) -> None:
    units = (await client.get("/api/v1/support-units", headers=admin)).json()
    assert [(u["name"], u["level"]) for u in units] == [
        ("DMSU", "second"),
        ("NGI_DE", "first"),
        ("TPM", "first"),
        ("dCache", "third"),
    ]


async def test_admin_creates_and_updates_units(client, admin) -> None:
    created = await client.post(
        "/api/v1/support-units",
        json={"name": "ARC", "level": "third", "description": "ARC middleware"},
        headers=admin,
    )
    assert created.status_code == 201
    duplicate = await client.post(
        "/api/v1/support-units", json={"name": "ARC", "level": "third"}, headers=admin
    )
    assert duplicate.status_code == 409
    updated = await client.patch(
        "/api/v1/support-units/ARC",
        json={"level": "second", "email": "arc@example.org"},
        headers=admin,
    )
    assert (updated.json()["level"], updated.json()["email"]) == ("second", "arc@example.org")
    missing = await client.patch("/api/v1/support-units/NOPE", json={}, headers=admin)
    assert missing.status_code == 404
    bad = await client.post(
        "/api/v1/support-units", json={"name": "bad name!", "level": "fourth"}, headers=admin
    )
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"name", "level"}


async def test_health_and_readiness(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"] == "current"


async def test_not_ready_when_database_is_not_migrated(tmp_path) -> None:
    import httpx

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert "code expects" in response.json()["error"]["message"]
            assert (await client.get("/healthz")).status_code == 200


async def test_unknown_route_and_method_are_json(client, admin) -> None:
    missing = await client.get("/api/v1/nothing", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await client.delete("/api/v1/tickets", headers=admin)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
