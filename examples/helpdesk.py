"""A reference remote helpdesk, and a way to serve any ASGI app on loopback for real-HTTP tests.

It plays a support unit's own ticketing system in the README's worked example, the adapter,
end-to-end and crash tests and the benchmarks:

    python3 examples/helpdesk.py serve [--port 8081]
    python3 examples/helpdesk.py solve REMOTE_ID "the solution" [--gateway URL] [--connection NAME]

The helpdesk implements exactly the "generic helpdesk" API that `mappings/rest-default.yaml`
describes, with in-memory state. It behaves like a well-run remote, so tests can see what the
gateway really does to one:

- every request is recorded (`received`), with its `Idempotency-Key` header;
- a request is applied at most once per Idempotency-Key: a repeat gets the first response, a key
  reused for a different request gets 422, a repeat arriving while the first is still running
  waits for it (and is counted in `overlaps`);
- it can be told to fail the next N requests (`fail_next`) or to answer late (`delay_next`, after
  applying the request, like a remote whose answer is lost to a client timeout);
- it builds its webhook events (`event`) and sends them signed with Standard Webhooks
  (`send_event`, `asend_event`).

`BackgroundServer` / `serving` run any ASGI app (this helpdesk, the gateway) with uvicorn on
127.0.0.1 in a background thread. Only loopback is ever used.

    desk = Helpdesk(token="t0k")
    with desk.serve() as server:               # or: server = desk.serve(); ...; server.stop()
        desk.fail_next(2, 503, retry_after=1)
        ...                                    # point a `rest` connection at server.url
        event = desk.solve("1", "Fixed the pool")
        send_event(f"{gateway_url}/api/v1/webhooks/ngi", SECRET, event)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.inbound.signatures import sign

LOOPBACK = "127.0.0.1"
RemotePriority = Literal["low", "normal", "high", "critical"]
RemoteStatus = Literal["open", "pending", "waiting", "resolved", "unresolved", "closed"]


# --- the API's request bodies (the helpdesk refuses what its API does not accept) -------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Requester(_Body):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class NewTicket(_Body):
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    requester: Requester
    priority: RemotePriority = "normal"
    status: RemoteStatus = "open"
    external_id: int | str | None = None
    group: str | None = None
    component: str | None = None


class TicketChange(_Body):
    title: str | None = Field(default=None, min_length=1)
    priority: RemotePriority | None = None
    status: RemoteStatus | None = None


class NewComment(_Body):
    body: str = Field(min_length=1)
    author: str | None = None


class NewAttachment(_Body):
    filename: str = Field(min_length=1)
    content_type: str = "application/octet-stream"
    content: str = Field(min_length=1, description="base64")
    author: str | None = None


class Resolution(_Body):
    status: Literal["resolved", "unresolved"]
    solution: str = Field(min_length=1)


# --- the helpdesk -----------------------------------------------------------------------------


@dataclass
class Received:
    """One request as the helpdesk received it, and the status it answered."""

    method: str
    path: str
    query: str
    idempotency_key: str | None
    body: Any
    at: float
    status: int | None = None


@dataclass
class _Applied:
    fingerprint: str
    status: int
    body: Any


Outcome = tuple[int, Any]


class Helpdesk:
    """The helpdesk's state and its scripting knobs; tests read and script it directly.

    `tickets` maps remote id -> ticket dict (`id`, `url`, `title`, `body`, `requester`,
    `priority`, `status`, `external_id`, `group`, `component`, `comments`, `attachments`,
    `solution`).
    The app runs on the server's thread; the knobs are safe to call from the test's thread.
    """

    def __init__(
        self, *, name: str = "helpdesk", token: str | None = None, base_url: str = ""
    ) -> None:
        self.name = name
        self.token = token
        self.base_url = base_url or f"http://{LOOPBACK}"
        self.tickets: dict[str, dict[str, Any]] = {}
        self.received: list[Received] = []
        self.overlaps: list[str] = []  # keys that arrived again while the first was running
        self._applied: dict[str, _Applied] = {}
        self._running: dict[str, asyncio.Event] = {}
        self._failures: list[tuple[int, str | None, Any]] = []
        self._delays: list[tuple[float, bool]] = []
        self.delay_seconds = 0.0  # standing delay for every request (after applying it)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # scripting -------------------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        retry_after: float | str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `count` requests with `status` (and Retry-After), applying nothing."""
        after = None if retry_after is None else str(retry_after)
        failure = (status, after, body if body is not None else {"error": f"scripted {status}"})
        with self._lock:
            self._failures.extend([failure] * count)

    def delay_next(self, count: int, seconds: float, *, apply_first: bool = True) -> None:
        """Answer the next `count` requests `seconds` late.

        With `apply_first` (default) the request takes effect before the wait: a client that
        times out has lost the answer, not the change. Otherwise nothing happens until the wait
        is over.
        """
        with self._lock:
            self._delays.extend([(seconds, apply_first)] * count)

    def reset_scripts(self) -> None:
        """Forget pending failures and delays."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()
            self.delay_seconds = 0.0

    # reading ---------------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """The Idempotency-Key of every received request that carried one, in order."""
        with self._lock:
            return [r.idempotency_key for r in self.received if r.idempotency_key]

    def requests(self, method: str | None = None, path: str | None = None) -> list[Received]:
        """Received requests, optionally only one method and/or one path."""
        with self._lock:
            return [
                r
                for r in self.received
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]

    def find(self, external_id: int | str) -> list[dict[str, Any]]:
        """Tickets carrying this hub id."""
        with self._lock:
            return [
                t for t in self.tickets.values() if str(t.get("external_id")) == str(external_id)
            ]

    # the remote side's own actions, each returning the webhook event it would send -----------

    def open_ticket(
        self,
        *,
        title: str,
        body: str,
        requester: dict[str, str],
        priority: RemotePriority = "normal",
        group: str | None = None,
        component: str | None = None,
    ) -> dict[str, Any]:
        """A ticket opened at this helpdesk by its own users; returns the `ticket.created` event."""
        data = NewTicket(
            title=title,
            body=body,
            requester=Requester(**requester),
            priority=priority,
            group=group,
            component=component,
        )
        with self._lock:
            ticket = self._store(data)
        return self.event("ticket.created", ticket["id"])

    def comment(self, remote_id: str, body: str, author: str = "helpdesk agent") -> dict[str, Any]:
        """A public comment here; returns the `ticket.commented` event."""
        comment = {"body": body, "author": author}
        with self._lock:
            self.tickets[remote_id]["comments"].append(comment)
        return self.event("ticket.commented", remote_id, comment=comment)

    def ask(self, remote_id: str, body: str, author: str = "helpdesk agent") -> dict[str, Any]:
        """A question to the submitter; returns the `ticket.question` event."""
        comment = {"body": body, "author": author}
        with self._lock:
            self.tickets[remote_id]["comments"].append(comment)
            self.tickets[remote_id]["status"] = "waiting"
        return self.event("ticket.question", remote_id, comment=comment)

    def attach(
        self, remote_id: str, filename: str, content: bytes, author: str = "helpdesk agent"
    ) -> dict[str, Any]:
        """A file added here; returns the `ticket.attached` event (the content in base64)."""
        attachment = {
            "filename": filename,
            "content_type": "application/octet-stream",
            "content": base64.b64encode(content).decode(),
            "author": author,
        }
        with self._lock:
            self.tickets[remote_id].setdefault("attachments", []).append(attachment)
        return self.event("ticket.attached", remote_id, attachment=attachment)

    def solve(self, remote_id: str, solution: str, *, solved: bool = True) -> dict[str, Any]:
        """Solve (or give up on) a ticket here; returns `ticket.solved` / `ticket.unsolved`."""
        status = "resolved" if solved else "unresolved"
        with self._lock:
            self.tickets[remote_id].update(status=status, solution=solution)
        kind = "ticket.solved" if solved else "ticket.unsolved"
        return self.event(kind, remote_id, solution=solution)

    def reassign(self, remote_id: str, group: str) -> dict[str, Any]:
        """Hand the ticket to another support unit; returns `ticket.reassigned`."""
        with self._lock:
            self.tickets[remote_id]["group"] = group
        return self.event("ticket.reassigned", remote_id)

    def event(
        self,
        kind: str,
        remote_id: str,
        *,
        comment: dict[str, Any] | None = None,
        solution: str | None = None,
        attachment: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The webhook payload for `kind` about one stored ticket, in the documented shape."""
        with self._lock:
            stored = self.tickets[remote_id]
            ticket = {
                "id": stored["id"],
                "url": stored["url"],
                "title": stored["title"],
                "body": stored["body"],
                "requester": dict(stored["requester"]),
                "priority": stored["priority"],
                "status": stored["status"],
            }
            for optional in ("external_id", "group", "component"):
                if stored.get(optional) is not None:
                    ticket[optional] = stored[optional]
        event: dict[str, Any] = {"type": kind, "ticket": ticket}
        if comment is not None:
            event["comment"] = comment
        if solution is not None:
            event["solution"] = solution
        if attachment is not None:
            event["attachment"] = attachment
        return event

    # serving ---------------------------------------------------------------------------------

    def app(self) -> FastAPI:
        return build_app(self)

    def serve(self, port: int | None = None) -> BackgroundServer:
        """Start serving on loopback; ticket URLs then point at the server."""
        server = BackgroundServer(self.app(), port=port)
        self.base_url = server.start()
        return server

    # request handling --------------------------------------------------------------------------

    async def handle(self, request: Request, work: Callable[[Any], Outcome]) -> JSONResponse:
        """Record, authenticate, apply the scripts, then apply `work` at most once per key."""
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        key = request.headers.get("idempotency-key")
        received = Received(
            request.method, request.url.path, request.url.query, key, body, time.time()
        )
        with self._lock:
            self.received.append(received)
        status, answer, headers = await self._answer(request, key, body, work)
        received.status = status
        return JSONResponse(answer, status_code=status, headers=headers)

    async def _answer(
        self, request: Request, key: str | None, body: Any, work: Callable[[Any], Outcome]
    ) -> tuple[int, Any, dict[str, str]]:
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "missing or wrong bearer token"}, {}
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            delay = self._delays.pop(0) if self._delays else (self.delay_seconds, True)
        if failure is not None:
            status, retry_after, answer = failure
            return status, answer, {"Retry-After": retry_after} if retry_after else {}
        if key is None or request.method == "GET":
            status, answer = await self._delayed(work, body, delay)
        else:
            status, answer = await self._once(key, _fingerprint(request), work, body, delay)
        return status, answer, {}

    async def _once(
        self,
        key: str,
        fingerprint: str,
        work: Callable[[Any], Outcome],
        body: Any,
        delay: tuple[float, bool],
    ) -> Outcome:
        """Apply once per key; a repeat that arrives while the first runs waits, then replays."""
        overlapped = False
        while (running := self._running.get(key)) is not None:
            if not overlapped:
                overlapped = True
                with self._lock:
                    self.overlaps.append(key)
            await running.wait()
        applied = self._applied.get(key)
        if applied is not None:
            if applied.fingerprint != fingerprint:
                return 422, {"error": "Idempotency-Key was used for a different request"}
            return applied.status, applied.body
        done = self._running[key] = asyncio.Event()
        try:
            status, answer = await self._delayed(work, body, delay, key, fingerprint)
        finally:
            del self._running[key]
            done.set()
        return status, answer

    async def _delayed(
        self,
        work: Callable[[Any], Outcome],
        body: Any,
        delay: tuple[float, bool],
        key: str | None = None,
        fingerprint: str = "",
    ) -> Outcome:
        seconds, apply_first = delay
        if seconds and not apply_first:
            await asyncio.sleep(seconds)
        status, answer = self._apply(work, body)
        if key is not None and status < 500:  # a server error is no result: the client retries
            self._applied[key] = _Applied(fingerprint, status, answer)
        if seconds and apply_first:
            await asyncio.sleep(seconds)
        return status, answer

    def _apply(self, work: Callable[[Any], Outcome], body: Any) -> Outcome:
        with self._lock:
            try:
                return work(body)
            except ValidationError as exc:
                return 422, {"error": "invalid request", "details": _details(exc)}

    def _store(self, data: NewTicket) -> dict[str, Any]:
        remote_id = str(next(self._ids))
        ticket = {
            **data.model_dump(),
            "id": remote_id,
            "url": f"{self.base_url}/tickets/{remote_id}",
            "comments": [],
            "attachments": [],
            "solution": None,
        }
        self.tickets[remote_id] = ticket
        return ticket

    def _ticket(self, remote_id: str) -> dict[str, Any] | None:
        return self.tickets.get(remote_id)


def _fingerprint(request: Request) -> str:
    return f"{request.method} {request.url.path}"


def _details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors()
    ]


def build_app(desk: Helpdesk) -> FastAPI:
    """The helpdesk's HTTP API (see `mappings/rest-default.yaml`)."""
    app = FastAPI(title=f"reference helpdesk {desk.name}", openapi_url=None)
    no_ticket: Outcome = (404, {"error": "no such ticket"})

    def route(
        work: Callable[[Request], Callable[[Any], Outcome]],
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def endpoint(request: Request) -> JSONResponse:
            return await desk.handle(request, work(request))

        return endpoint

    def root(request: Request) -> Callable[[Any], Outcome]:
        return lambda body: (200, {"name": desk.name, "tickets": len(desk.tickets)})

    def create(request: Request) -> Callable[[Any], Outcome]:
        def work(body: Any) -> Outcome:
            ticket = desk._store(NewTicket.model_validate(body))
            return 201, {"id": ticket["id"], "url": ticket["url"]}

        return work

    def search(request: Request) -> Callable[[Any], Outcome]:
        wanted = request.query_params.get("external_id")

        def work(body: Any) -> Outcome:
            found = [] if wanted is None else desk.find(wanted)
            return 200, {"items": [{"id": t["id"], "url": t["url"]} for t in found]}

        return work

    def read(request: Request) -> Callable[[Any], Outcome]:
        remote_id = request.path_params["remote_id"]

        def work(body: Any) -> Outcome:
            found = desk._ticket(remote_id)
            return (200, found) if found is not None else no_ticket

        return work

    def update(request: Request) -> Callable[[Any], Outcome]:
        remote_id = request.path_params["remote_id"]

        def work(body: Any) -> Outcome:
            change = TicketChange.model_validate(body)
            found = desk._ticket(remote_id)
            if found is None:
                return no_ticket
            found.update(change.model_dump(exclude_none=True))
            return 200, {"id": remote_id}

        return work

    def comment(request: Request) -> Callable[[Any], Outcome]:
        remote_id = request.path_params["remote_id"]

        def work(body: Any) -> Outcome:
            new = NewComment.model_validate(body)
            found = desk._ticket(remote_id)
            if found is None:
                return no_ticket
            found["comments"].append(new.model_dump())
            return 201, {"id": len(found["comments"])}

        return work

    def attach(request: Request) -> Callable[[Any], Outcome]:
        remote_id = request.path_params["remote_id"]

        def work(body: Any) -> Outcome:
            new = NewAttachment.model_validate(body)
            found = desk._ticket(remote_id)
            if found is None:
                return no_ticket
            found.setdefault("attachments", []).append(new.model_dump())
            return 201, {"id": len(found["attachments"])}

        return work

    def resolve(request: Request) -> Callable[[Any], Outcome]:
        remote_id = request.path_params["remote_id"]

        def work(body: Any) -> Outcome:
            resolution = Resolution.model_validate(body)
            found = desk._ticket(remote_id)
            if found is None:
                return no_ticket
            found.update(status=resolution.status, solution=resolution.solution)
            return 200, {"id": remote_id, "status": resolution.status}

        return work

    app.add_api_route("/", route(root), methods=["GET"])
    app.add_api_route("/tickets", route(create), methods=["POST"])
    app.add_api_route("/tickets", route(search), methods=["GET"])
    app.add_api_route("/tickets/{remote_id}", route(read), methods=["GET"])
    app.add_api_route("/tickets/{remote_id}", route(update), methods=["PATCH"])
    app.add_api_route("/tickets/{remote_id}/comments", route(comment), methods=["POST"])
    app.add_api_route("/tickets/{remote_id}/attachments", route(attach), methods=["POST"])
    app.add_api_route("/tickets/{remote_id}/resolve", route(resolve), methods=["POST"])
    return app


# --- signed webhooks --------------------------------------------------------------------------


def signed_headers(
    secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """Standard Webhooks headers for one message (`timestamp` lets tests send stale ones)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def send_event(
    url: str,
    secret: str,
    event: dict[str, Any],
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST one signed event to a (loopback) webhook URL; blocking, for synchronous tests."""
    _loopback_only(url)
    body = json.dumps(event).encode()
    headers = signed_headers(secret, body, msg_id=msg_id, timestamp=timestamp)
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


async def asend_event(
    url: str,
    secret: str,
    event: dict[str, Any],
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
    client: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """POST one signed event to a (loopback) webhook URL from async code."""
    _loopback_only(url)
    body = json.dumps(event).encode()
    headers = signed_headers(secret, body, msg_id=msg_id, timestamp=timestamp)
    if client is not None:
        return await client.post(url, content=body, headers=headers)
    async with httpx.AsyncClient(timeout=10.0) as own:
        return await own.post(url, content=body, headers=headers)


def _loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"test webhooks go to loopback only, not {url}")


# --- serving any ASGI app on loopback ---------------------------------------------------------


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (prefer `BackgroundServer(port=None)`)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class BackgroundServer:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a daemon thread.

    The listening socket is bound before the thread starts, so there is no race for the port and
    requests made right after `start()` are accepted. `stop()` then `start()` again serves on the
    same port (a remote that goes away and comes back).
    """

    def __init__(
        self,
        app: Any,
        *,
        port: int | None = None,
        ready_path: str | None = None,
        start_timeout: float = 60.0,  # generous: CI machines can be busy
    ) -> None:
        self.app = app
        self.port = port or 0
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server has not been started")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> str:
        """Serve until `stop()`; returns the base URL once the server accepts requests."""
        if self.running:
            raise RuntimeError(f"already serving on {self.url}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_config=None, log_level="warning", access_log=False, lifespan="auto"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"asgi:{self.port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                self.stop()
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        if self.ready_path is not None:
            self._wait_ready(deadline)
        return self.url

    def _wait_ready(self, deadline: float) -> None:
        url = f"{self.url}{self.ready_path}"
        while True:
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{url} never answered below 500")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let requests in progress finish, and wait for the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None
        if thread.is_alive():
            raise RuntimeError(f"server on {self.url} did not stop within {2 * timeout} s")

    def __enter__(self) -> BackgroundServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serving(app: Any, port: int | None = None, ready_path: str | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 for the block; yields its base URL."""
    server = BackgroundServer(app, port=port, ready_path=ready_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


# --- command line: the demo helpdesk of the worked example -----------------------------------

DEMO_TOKEN = "demo-token"
DEMO_SECRET = "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItdGhlLWV4YW1wbGU="


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
    if args.command == "serve":
        token = os.environ.get("NGI_DE_HELPDESK_TOKEN", DEMO_TOKEN)
        desk = Helpdesk(name="ngi-de", token=token, base_url=f"http://{LOOPBACK}:{args.port}")
        uvicorn.run(desk.app(), host=LOOPBACK, port=args.port, log_config=None)
        return
    secret = os.environ.get("NGI_DE_WEBHOOK_SECRET", DEMO_SECRET)
    event = {"type": "ticket.solved", "ticket": {"id": args.remote_id}, "solution": args.solution}
    response = send_event(f"{args.gateway}/api/v1/webhooks/{args.connection}", secret, event)
    print(response.status_code, response.text)


if __name__ == "__main__":
    main()
