"""The reference helpdesk in Znuny's shape: a regional helpdesk that runs Znuny (OTRS).

It speaks what `mappings/znuny.yaml` describes, as Znuny's GenericInterface does (shaped from
Znuny's source and documentation; see tests/fixtures/znuny): routes under
`/znuny/nph-genericinterface.pl/Webservice/GatewayConnector`, the agent's login in
`X-OTRS-Header-UserLogin` / `-Password`, errors answered with HTTP 200 and `{"Error": ...}`,
ids sometimes strings and sometimes numbers. Every change, its agents' and the gateway's alike,
is sent to the gateway as a `Ticket::Generic` invoker would (`{"Event": ..., "Ticket": ...}`,
with the shared token in `X-Gateway-Token`), in the background, as Znuny's daemon does.

    python3 examples/znuny_helpdesk.py serve [--port 8082]
    python3 examples/znuny_helpdesk.py open "SRM refuses writes" "since 08:00" --email a@b.org
    python3 examples/znuny_helpdesk.py close 1 "Renewed the host certificate"
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from examples.helpdesk import LOOPBACK, BackgroundServer

PREFIX = "/znuny/nph-genericinterface.pl/Webservice/GatewayConnector"
CLOSED = {"closed successful": 2, "closed unsuccessful": 3}
STATES = {
    "new": (1, "new"),
    "open": (4, "open"),
    "pending reminder": (6, "pending reminder"),
    **{name: (sid, "closed") for name, sid in CLOSED.items()},
}
HUMAN_AGENT = 3  # Jana Novakova, who works in this Znuny


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class ZnunyHelpdesk:
    """Znuny's tickets, articles and GenericInterface, in memory; `events` is what it sent."""

    def __init__(
        self,
        *,
        user: str = "hub-gateway",
        password: str = "demo-password",
        agent_user_id: int = 7,
        token: str = "demo-znuny-token",
        gateway_url: str | None = None,
    ) -> None:
        self.user, self.password, self.agent_user_id = user, password, agent_user_id
        self.token = token
        self.gateway_url = gateway_url  # where events go; None: kept, not sent
        self.tickets: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self._ids = itertools.count(4711)
        self._article_ids = itertools.count(9810)
        self._lock = threading.RLock()
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._sender: threading.Thread | None = None

    # --- people working in Znuny ---------------------------------------------------------------

    def open_ticket(
        self, title: str, body: str, *, email: str, name: str = "", priority: str = "3 normal"
    ) -> dict[str, Any]:
        """A customer's ticket, opened by an agent here: Znuny tells the gateway."""
        with self._lock:
            ticket = self._new(title, priority, email, name or email, by=HUMAN_AGENT)
            self._article(ticket, body, visible=True, by=HUMAN_AGENT, subject=title)
            self._emit("TicketCreate", ticket)
            return ticket

    def note(self, ticket_id: int, body: str, *, visible: bool = False) -> dict[str, Any]:
        with self._lock:
            ticket = self.tickets[ticket_id]
            article = self._article(ticket, body, visible=visible, by=HUMAN_AGENT)
            self._emit("ArticleCreate", ticket, article=article)
            return article

    def close(self, ticket_id: int, solution: str, *, successful: bool = True) -> None:
        with self._lock:
            ticket = self.tickets[ticket_id]
            article = self._article(ticket, solution, visible=True, by=HUMAN_AGENT)
            self._emit("ArticleCreate", ticket, article=article)
            self._set_state(
                ticket, "closed successful" if successful else "closed unsuccessful", by=HUMAN_AGENT
            )

    def articles(self, ticket_id: int, *, by_gateway: bool | None = None) -> list[dict[str, Any]]:
        found = self.tickets[ticket_id]["Articles"]
        if by_gateway is None:
            return list(found)
        return [a for a in found if (a["CreateBy"] == self.agent_user_id) == by_gateway]

    # --- the GenericInterface --------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="Znuny-shaped helpdesk", openapi_url=None)

        @app.post(f"{PREFIX}/Ticket")
        async def create(request: Request) -> JSONResponse:
            return await self._operation(request, "TicketCreate", self._create)

        @app.patch(PREFIX + "/Ticket/{ticket_id}")
        async def update(request: Request, ticket_id: str) -> JSONResponse:
            return await self._operation(request, "TicketUpdate", self._update, ticket_id)

        @app.get(PREFIX + "/Ticket/{ticket_id}")
        async def get(request: Request, ticket_id: str) -> JSONResponse:
            return await self._operation(request, "TicketGet", self._get, ticket_id)

        @app.post(f"{PREFIX}/TicketSearch")
        async def search(request: Request) -> JSONResponse:
            return await self._operation(request, "TicketSearch", self._search)

        return app

    async def _operation(self, request: Request, name: str, work: Any, *args: Any) -> JSONResponse:
        raw = await request.body()
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return JSONResponse({"faultcode": "Server", "faultstring": "bad JSON"}, 500)
        self.requests.append((request.method, request.url.path))
        login = request.headers.get("x-otrs-header-userlogin", data.get("UserLogin"))
        password = request.headers.get("x-otrs-header-password", data.get("Password"))
        if (login, password) != (self.user, self.password):  # Znuny: an error inside a 200
            return self._error(name, "AuthFail", f"{name}: User could not be authenticated!")
        with self._lock:
            answer: JSONResponse = work(name, data, *args)
            return answer

    def _error(self, operation: str, code: str, message: str) -> JSONResponse:
        return JSONResponse(
            {"Error": {"ErrorCode": f"{operation}.{code}", "ErrorMessage": message}}
        )

    def _create(self, name: str, data: dict[str, Any]) -> JSONResponse:
        fields, article = data.get("Ticket") or {}, data.get("Article") or {}
        missing = [
            k for k in ("Title", "Queue", "State", "Priority", "CustomerUser") if k not in fields
        ]
        missing += [f"Article.{k}" for k in ("Subject", "Body") if k not in article]
        if missing:
            return self._error(
                name, "MissingParameter", f"{name}: {missing[0]} parameter is missing!"
            )
        ticket = self._new(
            fields["Title"],
            fields["Priority"],
            fields["CustomerUser"],
            fields["CustomerUser"],
            by=self.agent_user_id,
            queue=fields["Queue"],
        )
        for field in data.get("DynamicField") or []:
            ticket[f"DynamicField_{field['Name']}"] = str(field["Value"])
        made = self._article(
            ticket,
            article["Body"],
            visible=bool(article.get("IsVisibleForCustomer", 1)),
            by=self.agent_user_id,
            subject=article["Subject"],
        )
        self._emit("TicketCreate", ticket)
        return JSONResponse(
            {
                "ArticleID": made["ArticleID"],
                "TicketID": str(ticket["TicketID"]),
                "TicketNumber": ticket["TicketNumber"],
            }
        )

    def _update(self, name: str, data: dict[str, Any], ticket_id: str) -> JSONResponse:
        ticket = self.tickets.get(int(ticket_id)) if ticket_id.isdigit() else None
        if ticket is None:
            return self._error(
                name, "AccessDenied", f"{name}: User does not have access to the ticket!"
            )
        answer: dict[str, Any] = {"TicketID": ticket_id, "TicketNumber": ticket["TicketNumber"]}
        article = data.get("Article")
        if article:
            made = self._article(
                ticket,
                article.get("Body", ""),
                by=self.agent_user_id,
                visible=bool(article.get("IsVisibleForCustomer", 1)),
                subject=article.get("Subject", ""),
            )
            answer["ArticleID"] = made["ArticleID"]
            self._emit("ArticleCreate", ticket, article=made)
        fields = data.get("Ticket") or {}
        for key in ("Title", "Priority"):
            if key in fields:
                ticket[key] = fields[key]
        if "State" in fields and fields["State"] != ticket["State"]:
            if fields["State"] not in STATES:
                return self._error(name, "InvalidParameter", f"{name}: Ticket->State is invalid!")
            self._set_state(ticket, fields["State"], by=self.agent_user_id)
        return JSONResponse(answer)

    def _get(self, name: str, data: dict[str, Any], ticket_id: str) -> JSONResponse:
        ticket = self.tickets.get(int(ticket_id)) if ticket_id.isdigit() else None
        if ticket is None:
            return self._error(
                name, "AccessDenied", f"{name}: User does not have access to the ticket!"
            )
        fields = [
            {"Name": k.removeprefix("DynamicField_"), "Value": v}
            for k, v in ticket.items()
            if k.startswith("DynamicField_")
        ]
        shown = {k: v for k, v in ticket.items() if not k.startswith("DynamicField_")}
        return JSONResponse(
            {"Ticket": [{**shown, "Article": shown["Articles"], "DynamicField": fields}]}
        )

    def _search(self, name: str, data: dict[str, Any]) -> JSONResponse:
        wanted = data.get("DynamicField") or {}
        found = [
            str(t["TicketID"])
            for t in self.tickets.values()
            if not wanted or t.get(f"DynamicField_{wanted.get('Name')}") == wanted.get("Equals")
        ]
        found = found[: int(data.get("Limit", 500))]
        return JSONResponse({"TicketID": found} if found else {})  # Znuny: {} when none

    # --- state ------------------------------------------------------------------------------------

    def _new(
        self, title: str, priority: str, email: str, name: str, *, by: int, queue: str = "NGI_CZ"
    ) -> dict[str, Any]:
        ticket_id = next(self._ids)
        ticket: dict[str, Any] = {
            "TicketID": ticket_id,
            "TicketNumber": f"2026112310{ticket_id:06d}",
            "Title": title,
            "Queue": queue,
            "Priority": priority,
            "State": "new",
            "StateID": 1,
            "StateType": "new",
            "CustomerUserID": email,
            "CustomerUser": {"UserEmail": email, "UserFullname": name, "UserLogin": email},
            "Created": _now(),
            "Changed": _now(),
            "CreateBy": by,
            "ChangeBy": by,
            "DynamicField_HubID": None,
            "Articles": [],
        }
        self.tickets[ticket_id] = ticket
        return ticket

    def _article(
        self, ticket: dict[str, Any], body: str, *, visible: bool, by: int, subject: str = "Note"
    ) -> dict[str, Any]:
        article = {
            "ArticleID": next(self._article_ids),
            "TicketID": ticket["TicketID"],
            "Body": body,
            "Subject": subject,
            "IsVisibleForCustomer": 1 if visible else 0,
            "CreateBy": by,
            "CreateTime": _now(),
            "SenderType": "agent",
            "From": "Ticket Hub" if by == self.agent_user_id else "Jana Novakova",
            "FromRealname": "Ticket Hub" if by == self.agent_user_id else "Jana Novakova",
            "ContentType": "text/plain; charset=utf-8",
        }
        ticket["Articles"].append(article)
        ticket["Changed"], ticket["ChangeBy"] = _now(), by
        return article

    def _set_state(self, ticket: dict[str, Any], state: str, *, by: int) -> None:
        ticket["StateID"], ticket["StateType"] = STATES[state]
        ticket["State"], ticket["Changed"], ticket["ChangeBy"] = state, _now(), by
        self._emit("TicketStateUpdate", ticket)

    # --- events, sent in the background as Znuny's daemon does ---------------------------------

    def _emit(
        self, event: str, ticket: dict[str, Any], *, article: dict[str, Any] | None = None
    ) -> None:
        payload: dict[str, Any] = {
            "Event": {
                "Event": event,
                "TicketID": str(ticket["TicketID"]),
                **({"ArticleID": str(article["ArticleID"])} if article else {}),
            },
            "Ticket": {
                **json.loads(json.dumps(ticket)),
                **({"Article": dict(article)} if article else {}),
            },
        }
        self.events.append(payload)
        if self.gateway_url:
            self._outbox.put(payload)
            self._start_sender()

    def _start_sender(self) -> None:
        if self._sender is None or not self._sender.is_alive():
            self._sender = threading.Thread(
                target=self._send_events, name="znuny-events", daemon=True
            )
            self._sender.start()

    def _send_events(self) -> None:
        with httpx.Client(timeout=10) as client:
            while (payload := self._outbox.get()) is not None:
                for _ in range(20):  # the daemon retries an event the gateway did not take
                    try:
                        answer = client.post(
                            self.gateway_url or "",
                            json=payload,
                            headers={"X-Gateway-Token": self.token},
                        )
                        if answer.status_code < 500:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.25)

    @contextmanager
    def serve(self, port: int | None = None) -> Iterator[BackgroundServer]:
        server = BackgroundServer(self.app(), port=port)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--desk", default=os.environ.get("ZNUNY_URL", f"http://{LOOPBACK}:8082"))
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Znuny-shaped helpdesk")
    serve.add_argument("--port", type=int, default=8082)
    serve.add_argument("--gateway", default="http://127.0.0.1:8080/api/v1/webhooks/ngi-cz-znuny")
    opened = sub.add_parser("open", help="open a ticket here (through the running desk)")
    opened.add_argument("title")
    opened.add_argument("body")
    opened.add_argument("--email", default="ann@example.org")
    closed = sub.add_parser("close", help="close a ticket here with a solution")
    closed.add_argument("ticket_id", type=int)
    closed.add_argument("solution")
    args = parser.parse_args()
    if args.command == "serve":
        desk = ZnunyHelpdesk(
            password=os.environ.get("NGI_CZ_ZNUNY_PASSWORD", "demo-password"),
            token=os.environ.get("NGI_CZ_ZNUNY_TOKEN", "demo-znuny-token"),
            gateway_url=args.gateway,
        )
        app = desk.app()

        @app.post("/_people/open")
        async def people_open(request: Request) -> JSONResponse:
            body = await request.json()
            return JSONResponse(desk.open_ticket(body["title"], body["body"], email=body["email"]))

        @app.post("/_people/close")
        async def people_close(request: Request) -> JSONResponse:
            body = await request.json()
            desk.close(int(body["ticket_id"]), body["solution"])
            return JSONResponse({"closed": body["ticket_id"]})

        uvicorn.run(app, host=LOOPBACK, port=args.port, log_config=None)
        return
    if args.command == "open":
        answer = httpx.post(
            f"{args.desk}/_people/open",
            json={"title": args.title, "body": args.body, "email": args.email},
        )
    else:
        answer = httpx.post(
            f"{args.desk}/_people/close",
            json={"ticket_id": args.ticket_id, "solution": args.solution},
        )
    print(answer.status_code, json.dumps(answer.json(), indent=2)[:2000])


if __name__ == "__main__":
    main()
