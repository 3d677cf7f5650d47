"""The real Request Tracker the tests run against, started by `.ci/rt` (Debian's 5.0.3, loopback).

Run `sudo .ci/rt` first (it prints and writes the facts this reads). Without it the RT tests fail
in CI and are skipped elsewhere, saying how to start it.

Isolation: REST 2 creates queues (`POST /queue`) but in 5.0.3 cannot apply a custom field to one.
`.ci/rt` applies "Hub ID" globally, so it applies to a queue from `new_queue()` as well; "Tag" is
applied to `requirements` only, so a test that needs it shares that queue and keeps to its own
tickets by a Hub ID (or subject) of its own. RT's scrips and the users are shared by all tests.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

FACTS = Path(os.environ.get("RT_FACTS", "/var/lib/rt-ci/facts.json"))
HISTORY_FIELDS = "Type,Field,OldValue,NewValue,Creator,Created,Data,ObjectType,ObjectId"


@dataclass
class RT:
    url: str
    rest_url: str
    user: str
    password: str
    facts: dict[str, Any]

    def api(self, *, as_staff: bool = False) -> httpx.Client:
        """root's REST 2 client (HTTP Basic), or with `as_staff` that of the RT staff member
        (`jnovak`, privileged, with rights on tickets in every queue)."""
        auth = (
            (self.facts["staff_user"], self.facts["staff_password"])
            if as_staff
            else (self.user, self.password)
        )
        return httpx.Client(base_url=self.rest_url, auth=auth, timeout=30)

    def new_queue(self) -> tuple[str, int]:
        """A queue of its own for one test (name, id); "Hub ID" applies to it, "Tag" does not."""
        name = f"gw-{uuid.uuid4().hex[:10]}"
        with self.api() as api:
            created = api.post("/queue", json={"Name": name, "Description": "a test's own queue"})
            created.raise_for_status()
            queue_id = int(created.json()["id"])
            fields = api.get(f"/queue/{queue_id}/customfields", params={"per_page": 100})
            fields.raise_for_status()
            hub_id = str(self.facts["custom_fields"]["Hub ID"])
            if hub_id not in {item["id"] for item in fields.json()["items"]}:
                raise AssertionError(f"custom field Hub ID ({hub_id}) does not apply to {name}")
        return name, queue_id

    def create_ticket(
        self,
        queue: str | int,
        subject: str,
        *,
        hub_id: str | None = None,
        content: str = "Created by a test.",
        requestor: str | None = None,
        **fields: Any,
    ) -> int:
        """A ticket made through REST 2 (`POST /ticket`, 201); its id."""
        body: dict[str, Any] = {
            "Queue": queue,
            "Subject": subject,
            "Content": content,
            "ContentType": "text/plain",
            **fields,
        }
        if hub_id is not None:
            body.setdefault("CustomFields", {})["Hub ID"] = hub_id
        if requestor is not None:
            body["Requestor"] = requestor
        with self.api() as api:
            created = api.post("/ticket", json=body)
            created.raise_for_status()
            return int(created.json()["id"])

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.api() as api:
            answer = api.get(f"/ticket/{ticket_id}")
            answer.raise_for_status()
            found: dict[str, Any] = answer.json()
            return found

    def history(self, ticket_id: int, *, fields: str = HISTORY_FIELDS) -> list[dict[str, Any]]:
        """Every transaction of a ticket, oldest first (all pages of GET /ticket/:id/history)."""
        items: list[dict[str, Any]] = []
        with self.api() as api:
            page = 1
            while True:
                answer = api.get(
                    f"/ticket/{ticket_id}/history",
                    params={
                        "fields": fields,
                        "per_page": 100,
                        "page": page,
                        "orderby": "id",
                        "order": "ASC",
                    },
                )
                answer.raise_for_status()
                found = answer.json()
                items.extend(found["items"])
                if "next_page" not in found:
                    return items
                page += 1

    def content(self, transaction_id: int) -> str:
        """The text of a correspondence or comment: its first text/plain (else text/html) part
        without a file name (GET /attachment/:id: Content is base64 of the raw bytes)."""
        with self.api() as api:
            listed = api.get(
                f"/transaction/{transaction_id}/attachments",
                params={"fields": "ContentType,Filename,Headers", "per_page": 100},
            )
            listed.raise_for_status()
            parts = [p for p in listed.json()["items"] if not p["Filename"]]
            for wanted in ("text/plain", "text/html"):
                for part in parts:
                    if part["ContentType"] == wanted:
                        one = api.get(f"/attachment/{part['id']}")
                        one.raise_for_status()
                        raw = base64.b64decode(one.json()["Content"])
                        charset = re.search(r'charset="?([\w.-]+)', part["Headers"] or "")
                        return raw.decode(charset.group(1) if charset else "utf-8", "replace")
        return ""


@pytest.fixture(scope="session")
def rt() -> RT:
    """The running RT, or a skip (a failure in CI) saying how to start it."""
    try:
        facts = json.loads(FACTS.read_text())
        with httpx.Client(timeout=5) as client:
            answer = client.get(f"{facts['rest_url']}/rt", auth=(facts["user"], facts["password"]))
        answer.raise_for_status()
    except (OSError, ValueError, KeyError, httpx.HTTPError) as exc:
        message = f"Request Tracker is not running ({exc}); start it with `sudo .ci/rt`"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return RT(facts["url"], facts["rest_url"], facts["user"], facts["password"], facts)
