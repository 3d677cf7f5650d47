"""The real Redmine the tests run against, started by `.ci/redmine` (Debian's package, loopback).

`.ci/run` (through `python3 dev.py test`) runs `.ci/redmine` before pytest. Without it the Redmine
tests fail in CI and are skipped elsewhere, saying how to start it.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

FACTS = Path(os.environ.get("REDMINE_FACTS", "/var/lib/redmine-ci/facts.json"))


@dataclass
class Redmine:
    url: str
    api_key: str
    facts: dict[str, Any]

    def api(self, *, as_user: str | None = None) -> httpx.Client:
        """The admin's API client, or the admin acting as another user (X-Redmine-Switch-User)."""
        headers = {"X-Redmine-API-Key": self.api_key}
        if as_user:
            headers["X-Redmine-Switch-User"] = as_user
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def new_project(self) -> tuple[str, int]:
        """A project of its own for one test, with a member who works in it (`jnovak`)."""
        identifier = f"gw-{uuid.uuid4().hex[:10]}"
        with self.api() as api:
            created = api.post(
                "/projects.json",
                json={
                    "project": {
                        "name": identifier,
                        "identifier": identifier,
                        "is_public": True,
                        "tracker_ids": list(self.facts["trackers"].values()),
                        "enabled_module_names": ["issue_tracking"],
                    }
                },
            )
            created.raise_for_status()
            project_id = int(created.json()["project"]["id"])
            user_id = self._staff(api)
            api.post(
                f"/projects/{project_id}/memberships.json",
                json={"membership": {"user_id": user_id, "role_ids": [self._manager(api)]}},
            ).raise_for_status()
        return identifier, project_id

    def _staff(self, api: httpx.Client) -> int:
        found = api.get("/users.json", params={"name": "jnovak"}).json()["users"]
        if found:
            return int(found[0]["id"])
        made = api.post(
            "/users.json",
            json={
                "user": {
                    "login": "jnovak",
                    "firstname": "Jan",
                    "lastname": "Novak",
                    "mail": "jnovak@ngi-cz.example.org",
                    "password": "jnovak-password-1",
                }
            },
        )
        made.raise_for_status()
        return int(made.json()["user"]["id"])

    def _manager(self, api: httpx.Client) -> int:
        roles = api.get("/roles.json").json()["roles"]
        return int(next(r["id"] for r in roles if r["name"] == "Manager"))


@pytest.fixture(scope="session")
def redmine() -> Redmine:
    """The running Redmine, or a skip (a failure in CI) saying how to start it."""
    try:
        facts = json.loads(FACTS.read_text())
        with httpx.Client(timeout=5) as client:
            answer = client.get(
                f"{facts['url']}/users/current.json",
                headers={"X-Redmine-API-Key": facts["api_key"]},
            )
        answer.raise_for_status()
    except (OSError, ValueError, KeyError, httpx.HTTPError) as exc:
        message = f"Redmine is not running ({exc}); start it with `sudo .ci/redmine`"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Redmine(facts["url"], facts["api_key"], facts)
