"""Property-based fuzz of the whole API, driven by the exported OpenAPI document (schemathesis).

A real `gateway serve` on each backend is fuzzed through every phase (examples, coverage, fuzzing,
stateful: the links in the document chain create -> read/patch/entries/history) with an admin, a
support unit's and a submitter's key. The run fails on any 5xx, any answer the document does not
describe (status, headers, body), any request the document calls invalid that is accepted, and any
4xx after which the database is not exactly as before (tests/fuzz/hooks.py).

Each run takes GATEWAY_FUZZ_SECONDS (default 12) per backend and role; set it higher for a long
run, and GATEWAY_FUZZ_SEED to replay a failing one (the seed is in the output).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG, ROOT, _pg_admin, new_ticket
from tests.support.servers import wait_until

BIN = Path(sys.executable).parent
SECONDS = int(os.environ.get("GATEWAY_FUZZ_SECONDS", "12"))
DEMO_ENV = {
    "NGI_DE_HELPDESK_TOKEN": "demo-token",
    "NGI_DE_WEBHOOK_SECRET": "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItdGhlLWV4YW1wbGU=",
}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "refusal_changes_nothing",  # ours, in hooks.py
]
ROLES = {
    "admin": [],
    "unit": ["--role", "unit", "--support-unit", "DMSU"],
    "submitter": ["--role", "submitter", "--submitter-email", "ann@example.org"],
}


@dataclass
class Gateway:
    url: str
    database_url: str
    keys: dict[str, str]
    log: Path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(BIN / "gateway"), *args, "--config", str(EXAMPLE_CONFIG)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """`gateway serve` (no delivery worker: only requests write) on a fresh database, with keys."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp / 'gateway.sqlite3'}"
        name = None
    else:
        request.getfixturevalue("postgres_url")  # fails the run without PostgreSQL, as everywhere
        name = f"gateway_fuzz_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    env = {
        **os.environ,
        **DEMO_ENV,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_MAIL_PORT": str(_free_port()),  # the example's mail listener, out of the way
    }
    _cli("migrate", env=env)
    keys = {
        role: _cli("create-key", "--name", f"fuzz-{role}", *extra, env=env)
        for role, extra in ROLES.items()
    }
    port = _free_port()
    log = tmp / "gateway.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                str(BIN / "gateway"),
                "serve",
                "--config",
                str(EXAMPLE_CONFIG),
                "--port",
                str(port),
                "--no-worker",
                "--no-migrate",
            ],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{url}/readyz"), timeout=30)
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        for unit in ("DMSU", "NGI_DE", None):  # something to read for every role
            body = new_ticket(**({"support_unit": unit} if unit else {}))
            created = httpx.post(f"{url}/api/v1/tickets", json=body, headers=admin, timeout=10)
            assert created.status_code == 201, created.text
        yield Gateway(url, database_url, keys, log)
    finally:
        server.terminate()
        server.wait(timeout=15)
        if name is not None:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("role", list(ROLES))
def test_fuzz_finds_no_server_error_nor_undocumented_answer(
    gateway: Gateway, role: str, tmp_path: Path
) -> None:
    command = [
        str(BIN / "st"),
        "run",
        str(ROOT / "openapi" / "openapi.json"),
        "--url",
        gateway.url,
        "--header",
        f"Authorization: Bearer {gateway.keys[role]}",
        "--checks",
        ",".join(CHECKS),
        "--max-time",
        str(SECONDS),
        "--workers",
        "1",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    if seed := os.environ.get("GATEWAY_FUZZ_SEED"):
        command += ["--seed", seed]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "FUZZ_DATABASE_URL": gateway.database_url,
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=SECONDS * 10 + 120
    )
    server_log = gateway.log.read_text(errors="replace").splitlines()
    errors = [line for line in server_log if '"level": "error"' in line]
    assert result.returncode == 0, (
        f"schemathesis found problems ({role}):\n{result.stdout[-12000:]}\n{result.stderr[-3000:]}"
        f"\nserver errors:\n" + "\n".join(errors[-20:])
    )
    assert "passed" in result.stdout
    assert not errors, "\n".join(errors[-20:])
