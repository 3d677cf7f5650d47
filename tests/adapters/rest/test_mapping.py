"""Loading mapping files: shipped ones, `extends`, every problem reported with its key, version 1
files upgraded (in memory, or written out by `gateway upgrade-mapping`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import respx
import yaml
from typer.testing import CliRunner

from adapters.rest import load_mapping
from gateway.adapter.errors import AdapterConfigError
from gateway.cli import app
from tests.adapters.rest.conftest import BASE, make_adapter
from tests.adapters.rest.support import MAPPINGS, MINIMAL, request, shipped, write
from tests.contract.tickets import make_delivery


def problems_of(path: Path) -> list[dict[str, str]]:
    with pytest.raises(AdapterConfigError) as caught:
        load_mapping(path)
    return caught.value.problems


@pytest.mark.parametrize(
    "name",
    # jira-common is a base others extend; the cheat sheet is the routing map, not a REST mapping
    sorted(
        p.stem
        for p in MAPPINGS.glob("*.yaml")
        if p.name not in ("jira-common.yaml", "cheat-sheet.yaml")
    ),
)
def test_every_shipped_mapping_loads(name: str) -> None:
    assert shipped(name).version == 2


def test_the_shared_jira_part_alone_is_incomplete() -> None:
    assert {"key": "outbound", "message": "Field required"} in problems_of(
        MAPPINGS / "jira-common.yaml"
    )


def test_jira_flavours_inherit_the_shared_rules_and_keep_their_own_requests() -> None:
    dc, cloud = shipped("jira-dc"), shipped("jira-cloud")
    assert dc.inbound == cloud.inbound and dc.inbound.verify is not None
    assert dc.responses.outcomes == {"409": "retry"}
    assert (dc.auth.type, cloud.auth.type) == ("bearer", "basic")
    assert dc.outbound.create.steps[0].path == "/rest/api/2/issue"
    assert cloud.outbound.create.steps[0].path == "/rest/api/3/issue"


def test_extends_merges_dicts_key_by_key_and_replaces_everything_else(tmp_path: Path) -> None:
    base = copy.deepcopy(MINIMAL)
    base["headers"] = {"X-A": "a", "X-B": "b"}
    write(tmp_path, "base.yaml", base)
    child = {
        "extends": "base.yaml",
        "version": 2,
        "headers": {"X-B": "child"},
        "outbound": {"update": {"steps": [{"method": "PUT", "path": "/t/{{ remote.remote_id }}"}]}},
    }
    mapping = load_mapping(write(tmp_path, "child.yaml", child))
    assert mapping.headers == {"X-A": "a", "X-B": "child"}
    assert [s.method for s in mapping.outbound.update.steps] == ["PUT"]
    assert mapping.outbound.create.steps[0].path == "/tickets"  # inherited


def test_extends_finds_a_shipped_mapping_when_no_file_sits_next_to_it(tmp_path: Path) -> None:
    path = write(tmp_path, "site.yaml", {"extends": "jira-dc.yaml", "headers": {"X-Site": "1"}})
    mapping = load_mapping(path)
    assert mapping.headers == {"X-Site": "1"}
    assert mapping.outbound.solve.steps[0].path.endswith("/transitions")


def test_an_extends_loop_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", {"extends": "b.yaml", "version": 2})
    write(tmp_path, "b.yaml", {"extends": "a.yaml", "version": 2})
    assert problems_of(tmp_path / "a.yaml") == [{"key": "extends", "message": "extends itself"}]


def test_an_extends_loop_through_a_relative_path_is_reported(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    write(tmp_path / "site", "a.yaml", {"extends": "../site/a.yaml", "version": 2})
    assert problems_of(tmp_path / "site" / "a.yaml")[0]["key"] == "extends"


def test_a_missing_base_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", {"extends": "nowhere.yaml", "version": 2})
    assert problems_of(path) == [
        {"key": "extends", "message": "mapping file 'nowhere.yaml' not found"}
    ]


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "version: 2\noutbound: [unclosed\n")
    assert problems_of(path)[0]["key"] == "(file)"


BROKEN: dict[str, Any] = {
    "outbound": {
        "create": {
            "steps": [
                {
                    "method": "POST",
                    "path": "/tickets",
                    "body": {
                        "title": "{{ ticket.subject }",
                        "id_seen": "{{ response.id }}",
                        "prio": "{{ ticket.priority | to_remote('prio') }}",
                    },
                }
            ]
        }
    },
    "inbound": {
        "rules": [
            {
                "when": "{{ secrets.token == 'x' }}",
                "event_id": "{{ payload.id }}",
                "commands": [{"kind": "explode"}],
            }
        ]
    },
}


def test_every_problem_is_listed_at_once_with_its_key(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["outbound"]["create"]["steps"] = BROKEN["outbound"]["create"]["steps"]
    data["inbound"] = BROKEN["inbound"]
    problems = problems_of(write(tmp_path, "m.yaml", data))
    body = "outbound.create.steps[0].body"
    assert [(p["key"], p["message"].split(":")[0]) for p in problems] == [
        (body, "template does not compile"),
        (body, "template reads response, not available here"),
        (body, "no map named 'prio' in maps"),
        ("inbound.rules[0].when", "template reads secrets, not available here"),
        (
            "inbound.rules[0].commands[0].kind",
            "must be one of attach, comment, create, question, reassign, solve, status, update",
        ),
    ]


def test_basic_auth_without_a_password_is_reported(tmp_path: Path) -> None:
    data = {**MINIMAL, "auth": {"type": "basic", "username": "{{ values.user }}"}}
    assert problems_of(write(tmp_path, "m.yaml", data)) == [
        {"key": "auth", "message": "Value error, auth type 'basic' needs password"}
    ]


def test_schema_and_template_syntax_problems_are_listed_together(tmp_path: Path) -> None:
    """A file that does not validate still has its templates compiled: one round fixes both."""
    data = copy.deepcopy(MINIMAL)
    data["auth"] = {"type": "basic", "username": "u"}
    data["inbound"] = {
        "rules": [
            {"when": "{{ payload.x == }}", "event_id": "e", "commands": [{"kind": "comment"}]}
        ]
    }
    keys = {p["key"] for p in problems_of(write(tmp_path, "m.yaml", data))}
    assert {"auth", "inbound.rules[0].when"} <= keys


def test_an_unknown_key_is_reported_with_its_path(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["outbound"]["create"]["steps"][0]["bodyy"] = {}
    assert problems_of(write(tmp_path, "m.yaml", data))[0]["key"] == (
        "outbound.create.steps[0].bodyy"
    )


def test_find_templates_may_not_read_the_ticket(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["outbound"]["find"] = {
        "steps": [{"method": "GET", "path": "/t", "query": {"q": "{{ ticket.subject }}"}}],
        "result": {"remote_id": "{{ response.id }}"},
    }
    assert problems_of(write(tmp_path, "m.yaml", data)) == [
        {
            "key": "outbound.find.steps[0].query",
            "message": "template reads ticket, not available here",
        }
    ]


# --- version 1 --------------------------------------------------------------------------------


@pytest.fixture
def version_1(tmp_path: Path) -> Path:
    """The rest-default.yaml shipped before mapping v2 (`git show 6f33665:mappings/...`)."""
    text = (Path(__file__).parent / "rest-default.v1.yaml").read_text(encoding="utf-8")
    assert "\nversion: 1\n" in text
    return write(tmp_path, "helpdesk.yaml", text)


async def test_a_version_1_mapping_sends_the_same_create_as_its_version_2_form(
    version_1: Path,
) -> None:
    bodies = []
    for mapping in (load_mapping(version_1), shipped("rest-default")):
        adapter = make_adapter(mapping)
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(f"{BASE}/tickets").respond(201, json={"id": 9, "url": "u/9"})
            result = await adapter.create(make_delivery("create"))
        await adapter.aclose()
        assert result.remote is not None and result.remote.remote_id == "9"
        assert route.calls[0].request.headers["authorization"] == "Bearer t0k-very-secret"
        bodies.append(json.loads(route.calls[0].request.content))
    assert bodies[0] == bodies[1]
    assert bodies[0]["external_id"] == 42 and bodies[0]["priority"] == "high"


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "ticket.solved", "ticket": {"id": 9, "external_id": 42}, "solution": "Fixed"},
        {"type": "ticket.unsolved", "ticket": {"id": "9"}, "solution": "No fix"},
        {
            "type": "ticket.commented",
            "ticket": {"id": 9},
            "comment": {"body": "Hi", "author": "Bo"},
        },
        {"type": "ticket.status", "ticket": {"id": 9, "status": "pending"}},
        {"type": "ticket.other", "ticket": {"id": 9}},
    ],
)
def test_a_version_1_mapping_makes_the_same_commands_as_its_version_2_form(
    version_1: Path, payload: dict[str, Any]
) -> None:
    inbound = request(payload, **{"webhook-id": "msg_1"})
    old = make_adapter(load_mapping(version_1)).translate_inbound(inbound)
    new = make_adapter(shipped("rest-default")).translate_inbound(inbound)
    assert old == new
    assert len(old) == (0 if payload["type"] == "ticket.other" else 1)


def test_a_version_1_lookup_with_a_query_in_its_path_becomes_find_with_a_query(
    version_1: Path,
) -> None:
    find = load_mapping(version_1).outbound.find
    assert find is not None
    assert (find.steps[0].path, find.steps[0].query) == (
        "/tickets",
        {"external_id": "{{ hub_id }}"},
    )


def test_upgrade_mapping_prints_the_version_2_form(version_1: Path) -> None:
    result = CliRunner().invoke(app, ["upgrade-mapping", str(version_1)])
    assert result.exit_code == 0, result.output
    upgraded = yaml.safe_load(result.stdout)
    assert upgraded["version"] == 2
    assert upgraded["outbound"]["create"]["steps"][0]["path"] == "/tickets"
    assert "version: 1" in version_1.read_text()  # untouched


def test_upgrade_mapping_write_replaces_the_file_and_keeps_the_original(version_1: Path) -> None:
    original = version_1.read_text()
    result = CliRunner().invoke(app, ["upgrade-mapping", "--write", str(version_1)])
    assert result.exit_code == 0, result.output
    assert version_1.with_name("helpdesk.yaml.v1").read_text() == original
    assert yaml.safe_load(version_1.read_text())["version"] == 2
    assert load_mapping(version_1).outbound.find is not None


def test_upgrade_mapping_refuses_a_file_that_is_not_version_1(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", MINIMAL)
    result = CliRunner().invoke(app, ["upgrade-mapping", "--write", str(path)])
    assert result.exit_code == 2
    assert "not a version 1 mapping" in result.output
    assert not path.with_name("m.yaml.v1").exists()
