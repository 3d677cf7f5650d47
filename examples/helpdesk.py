"""A small reference helpdesk with the REST API that `mappings/rest-default.yaml` describes.

It plays a support unit's own ticketing system in the worked example, the end-to-end and crash
tests and the benchmarks: it keeps tickets in memory, applies each `Idempotency-Key` once,
records every request, can be told to fail or slow down, and sends Standard Webhooks-signed
events to the gateway.

    python3 examples/helpdesk.py serve [--port 8081]
    python3 examples/helpdesk.py solve REMOTE_ID "the solution" [--gateway URL] [--connection NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.webhook.standard import sign

DEMO_TOKEN = "demo-token"
DEMO_SECRET = "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItdGhlLWV4YW1wbGU="


@dataclass
class Received:
    method: str
    path: str
    key: str | None
    body: Any
    at: float


@dataclass
class Helpdesk:
    """The helpdesk's state; tests read and script it directly."""

    name: str = "helpdesk"
    token: str | None = None
    base_url: str = "http://127.0.0.1"
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    applied: dict[str, tuple[int, Any]] = field(default_factory=dict)
    fail_next: list[tuple[int, str | None]] = field(default_factory=list)
    delay_seconds: float = 0.0
    in_flight: set[str] = field(default_factory=set)
    overlaps: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def keys(self) -> list[str]:
        return [r.key for r in self.received if r.key]

    def app(self) -> FastAPI:
        return build_app(self)


def build_app(desk: Helpdesk) -> FastAPI:
    app = FastAPI(title=f"reference helpdesk {desk.name}")

    async def handle(request: Request, work: Any) -> JSONResponse:
        body = json.loads(await request.body() or b"null")
        key = request.headers.get("idempotency-key")
        desk.received.append(Received(request.method, request.url.path, key, body, time.time()))
        if desk.token and request.headers.get("authorization") != f"Bearer {desk.token}":
            return JSONResponse({"error": "bad token"}, status_code=401)
        if key and key in desk.in_flight:
            desk.overlaps.append(key)
        if key and key in desk.applied:
            status, stored = desk.applied[key]
            return JSONResponse(stored, status_code=status)
        if desk.fail_next:
            status, retry_after = desk.fail_next.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return JSONResponse(
                {"error": f"scripted {status}"}, status_code=status, headers=headers
            )
        if key:
            desk.in_flight.add(key)
        try:
            if desk.delay_seconds:
                await asyncio.sleep(desk.delay_seconds)
            status, result = work(body)
        finally:
            if key:
                desk.in_flight.discard(key)
        if key and status < 500:
            desk.applied[key] = (status, result)
        return JSONResponse(result, status_code=status)

    def ticket(remote_id: str) -> dict[str, Any] | None:
        return desk.tickets.get(remote_id)

    @app.post("/tickets")
    async def create(request: Request) -> JSONResponse:
        def work(body: dict[str, Any]) -> tuple[int, Any]:
            remote_id = str(next(desk._ids))
            url = f"{desk.base_url}/tickets/{remote_id}"
            desk.tickets[remote_id] = {**body, "id": remote_id, "url": url, "comments": []}
            return 201, {"id": remote_id, "url": url}

        return await handle(request, work)

    @app.get("/tickets")
    async def search(external_id: str | None = None) -> dict[str, Any]:
        found = [t for t in desk.tickets.values() if str(t.get("external_id")) == external_id]
        return {"items": [{"id": t["id"], "url": t["url"]} for t in found]}

    @app.get("/tickets/{remote_id}")
    async def read(remote_id: str) -> JSONResponse:
        found = ticket(remote_id)
        return JSONResponse(found or {"error": "no such ticket"}, status_code=200 if found else 404)

    @app.patch("/tickets/{remote_id}")
    async def update(remote_id: str, request: Request) -> JSONResponse:
        def work(body: dict[str, Any]) -> tuple[int, Any]:
            found = ticket(remote_id)
            if found is None:
                return 404, {"error": "no such ticket"}
            found.update(body)
            return 200, {"id": remote_id}

        return await handle(request, work)

    @app.post("/tickets/{remote_id}/comments")
    async def comment(remote_id: str, request: Request) -> JSONResponse:
        def work(body: dict[str, Any]) -> tuple[int, Any]:
            found = ticket(remote_id)
            if found is None:
                return 404, {"error": "no such ticket"}
            found["comments"].append(body)
            return 201, {"id": len(found["comments"])}

        return await handle(request, work)

    @app.post("/tickets/{remote_id}/resolve")
    async def resolve(remote_id: str, request: Request) -> JSONResponse:
        def work(body: dict[str, Any]) -> tuple[int, Any]:
            found = ticket(remote_id)
            if found is None:
                return 404, {"error": "no such ticket"}
            found.update(status=body.get("status"), solution=body.get("solution"))
            return 200, {"id": remote_id}

        return await handle(request, work)

    return app


def signed_headers(secret: str, body: bytes, event_id: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers for one event."""
    msg_id = event_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


async def send_event(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    event: dict[str, Any],
    event_id: str | None = None,
) -> httpx.Response:
    """POST one signed event to a gateway webhook URL."""
    body = json.dumps(event).encode()
    return await client.post(url, content=body, headers=signed_headers(secret, body, event_id))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the helpdesk")
    serve.add_argument("--port", type=int, default=8081)
    solve = sub.add_parser("solve", help="solve a ticket here and tell the gateway by webhook")
    solve.add_argument("remote_id")
    solve.add_argument("solution")
    solve.add_argument("--gateway", default="http://127.0.0.1:8080")
    solve.add_argument("--connection", default="ngi-de-helpdesk")
    args = parser.parse_args()
    secret = os.environ.get("NGI_DE_WEBHOOK_SECRET", DEMO_SECRET)
    if args.command == "serve":
        import uvicorn

        token = os.environ.get("NGI_DE_HELPDESK_TOKEN", DEMO_TOKEN)
        desk = Helpdesk(name="ngi-de", token=token, base_url=f"http://127.0.0.1:{args.port}")
        uvicorn.run(desk.app(), host="127.0.0.1", port=args.port)
        return
    event = {"type": "ticket.solved", "ticket": {"id": args.remote_id}, "solution": args.solution}
    url = f"{args.gateway}/api/v1/webhooks/{args.connection}"

    async def post() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await send_event(client, url, secret, event)

    response = asyncio.run(post())
    print(response.status_code, response.text)


if __name__ == "__main__":
    main()
