"""Routing by the TPM cheat sheet (mappings/cheat-sheet.yaml, as examples/gateway.yaml uses it),
TEAM and ALARM tickets to their site's unit, the explain API, and cheat sheets that are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth.models import Role
from gateway.config.loader import load_config
from gateway.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG, Keys, new_ticket


async def explain(client: httpx.AsyncClient, admin: dict[str, str], **draft: Any) -> Any:
    answer = await client.post("/api/v1/routing/explain", json=draft, headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_first_matching_rule_routes_and_explain_says_why(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    srm = await explain(client, admin, component="srm")
    assert (srm["support_unit"], srm["by"], srm["rule"]["index"]) == ("DMSU", "rule", 0)
    assert srm["reason"].startswith("cheat-sheet rule 0 matches (storage middleware")
    assert srm["skipped"] == []

    docs = await explain(client, admin, category="Documentation", component="Wiki")
    assert (docs["support_unit"], docs["rule"]["index"]) == ("TPM", 3)
    assert [s["why"] for s in docs["skipped"]] == [
        "component is 'Wiki', the rule wants one of dCache, SRM",
        "component is 'Wiki', the rule wants one of ARC-CE, HTCondor-CE, VOMS, APEL, FTS, "
        "StoRM, UI, WN",
        "component is 'Wiki', the rule wants one of Monitoring, ARGO",
    ]

    # both fields of rule 2 must match: the ops VO's monitoring, not anyone's
    assert (await explain(client, admin, component="ARGO", vo="ops"))["rule"]["index"] == 2
    other = await explain(client, admin, component="ARGO", vo="atlas")
    assert (other["support_unit"], other["by"]) == ("TPM", "default")
    assert other["skipped"][2]["why"] == "vo is 'atlas', the rule wants ops"

    named = await explain(client, admin, component="srm", support_unit="NGI_DE")
    assert (named["support_unit"], named["by"]) == ("NGI_DE", "named")


async def test_team_and_alarm_tickets_go_to_the_site_and_an_alarm_notifies_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    team = await explain(client, admin, type="TEAM", affected_site="desy-hh", component="srm")
    assert (team["support_unit"], team["by"], team["site"]) == ("NGI_DE", "site", "DESY-HH")
    assert team["alarm_notifies"] is None
    alarm = await explain(client, admin, type="ALARM", affected_site="FZK-LCG2")
    assert alarm["alarm_notifies"] == "alarm@fzk-lcg2.example.org"
    assert alarm["reason"] == "an ALARM ticket goes to the unit of its affected site, FZK-LCG2"

    created = await client.post(
        "/api/v1/tickets",
        json=new_ticket(type="ALARM", affected_site="FZK-LCG2", priority="top priority"),
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["support_unit"] == "NGI_DE"
    history = await client.get(f"/api/v1/tickets/{created.json()['id']}/history", headers=admin)
    [notice] = [h["changes"]["notice"] for h in history.json() if h["action"] == "notice"]
    assert (notice["kind"], notice["to"]) == ("alarm", ["alarm@fzk-lcg2.example.org"])
    assert notice["subject"].startswith("ALARM for FZK-LCG2: ")

    unknown = await client.post(
        "/api/v1/tickets", json=new_ticket(type="ALARM", affected_site="NOWHERE"), headers=admin
    )
    assert unknown.status_code == 422
    assert "'NOWHERE' is not one" in unknown.json()["error"]["message"]
    listed = (await client.get("/api/v1/tickets", headers=admin)).json()["items"]
    assert len(listed) == 1  # the refused ALARM left nothing behind


async def test_a_ticket_no_rule_matches_goes_to_the_tpm(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(
        "/api/v1/tickets", json=new_ticket(component="Nothing"), headers=admin
    )
    assert (created.json()["support_unit"], created.json()["status"]) == ("TPM", "new")
    routed = await client.post(
        "/api/v1/tickets", json=new_ticket(component="dCache"), headers=admin
    )
    assert routed.json()["support_unit"] == "DMSU"


async def test_routing_is_explained_to_staff_not_submitters(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    staff = await keys.headers(Role.UNIT, unit="DMSU")
    assert (await client.post("/api/v1/routing/explain", json={}, headers=staff)).status_code == 200
    submitter = await keys.headers(Role.SUBMITTER, email="ann@example.org")
    refused = await client.post("/api/v1/routing/explain", json={}, headers=submitter)
    assert refused.status_code == 403
    bad = await client.post("/api/v1/routing/explain", json={"category": "Gossip"}, headers=staff)
    assert bad.status_code == 422


def write_config(tmp_path: Path, sheet: str) -> Path:
    (tmp_path / "sheet.yaml").write_text(sheet, encoding="utf-8")
    config = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "cheat_sheet: ../mappings/cheat-sheet.yaml", "cheat_sheet: sheet.yaml"
    )
    path = tmp_path / "gateway.yaml"
    path.write_text(config, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("sheet", "key", "message"),
    [
        (
            "rules:\n  - {component: srm, support_unit: NOBODY}\n",
            "routing.cheat_sheet (sheet.yaml)[0].support_unit",
            "'NOBODY' is not a configured support unit",
        ),
        (
            "rules:\n  - {support_unit: DMSU}\n",
            "sheet.yaml:rules[0]",
            "a routing rule names at least one of component, category, type, vo",
        ),
        (
            "rules:\n  - {category: Gossip, support_unit: DMSU}\n",
            "sheet.yaml:rules[0]",
            "category: 'Gossip' is not a ticket category",
        ),
        ("rules:\n  - {component: srm, unit: DMSU}\n", "sheet.yaml:rules[0].unit", "Extra inputs"),
    ],
    ids=["unknown-unit", "matches-nothing", "unknown-category", "unknown-key"],
)
def test_a_cheat_sheet_that_cannot_route_is_refused_at_start(
    tmp_path: Path, sheet: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path, sheet))
    problems = refused.value.details
    assert any(p["key"] == key and message in p["message"] for p in problems), problems
