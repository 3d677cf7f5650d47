"""Polling a real Redmine that holds 10,000 issues: what an idle poll costs, and how soon a change
made in Redmine reaches the hub.

    python bench/redmine_poll.py [--issues 10000] [--interval 5] [--changes 10] [--backend ...]

Needs the Redmine of `.ci/redmine` (Debian's package on loopback; the script runs it, as root the
first time). A project of its own gets `--issues` issues (written straight into Redmine's SQLite
database, as a busy helpdesk's history; the API would take minutes), then `gateway serve` polls it
every `--interval` seconds through `mappings/redmine.yaml` (the example config's connection).
`--changes` hub tickets are assigned to the unit, so they exist in Redmine; each is then resolved
there by a person at a random moment, and the time until the hub shows it solved is measured.

Goals: an idle poll makes one request; a change reaches the hub within the interval plus one
second. Printed as ratios: requests per idle poll against 1, and each latency against
interval + 1 s (the baseline a perfect poller would meet; above 1.0 misses the goal).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml

from bench.common import (
    BIN,
    ROOT,
    arguments,
    backends,
    database,
    free_port,
    gateway_cli,
    median,
    process,
    save,
)
from tests.support.redmine import FACTS, Redmine

REDMINE_DB = Path("/var/lib/dbconfig-common/sqlite3/redmine/instances/default/redmine_default")


def running_redmine() -> Redmine:
    subprocess.run(["bash", str(ROOT / ".ci" / "redmine")], check=True, stdout=subprocess.DEVNULL)
    facts = json.loads(FACTS.read_text())
    return Redmine(facts["url"], facts["api_key"], facts)


def fill(project_id: int, count: int, hub_field: int) -> float:
    """`count` issues of a past year in the project, straight into Redmine's database."""
    started = time.perf_counter()
    past = "2025-03-01 10:00:00"
    with sqlite3.connect(REDMINE_DB, timeout=30) as db:
        first = (db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM issues").fetchone())[0]
        db.executemany(
            "INSERT INTO issues (id, tracker_id, project_id, subject, description, status_id,"
            " priority_id, author_id, lock_version, created_on, updated_on, start_date,"
            " done_ratio, root_id, lft, rgt, is_private)"
            " VALUES (?, 1, ?, ?, 'history', 5, 2, 1, 0, ?, ?, '2025-03-01', 0, ?, 1, 2, 0)",
            [
                (first + n, project_id, f"old issue {n}", past, past, first + n)
                for n in range(count)
            ],
        )
        db.executemany(
            "INSERT INTO custom_values (customized_type, customized_id, custom_field_id, value)"
            " VALUES ('Issue', ?, ?, '')",
            [(first + n, hub_field) for n in range(count)],
        )
    return time.perf_counter() - started


def config(path: Path, interval: float) -> Path:
    raw = yaml.safe_load((ROOT / "examples" / "ggus-flow.yaml").read_text())
    raw["connections"] = [c for c in raw["connections"] if c["name"] == "dmsu-redmine"]
    raw["connections"][0]["poll_interval_seconds"] = interval
    path.write_text(yaml.safe_dump(raw))
    return path


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and 'connection="dmsu-redmine"' in line
    )


async def solved(hub: httpx.AsyncClient, hub_id: int) -> None:
    """Return once the hub shows the ticket solved (asked every 50 ms)."""
    while True:
        if (await hub.get(f"/api/v1/tickets/{hub_id}")).json()["status"] == "solved":
            return
        await asyncio.sleep(0.05)


async def measure(
    url: str, key: str, redmine: Redmine, changes: int, interval: float
) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as hub:
        ids = []
        for n in range(changes):
            created = await hub.post(
                "/api/v1/tickets",
                json={
                    "subject": f"bench change {n}",
                    "description": "measured",
                    "submitter": {"name": "Ann", "email": "ann@example.org"},
                    "support_unit": "DMSU",
                },
            )
            ids.append(created.json()["id"])
        issues = {}
        while len(issues) < changes:  # every ticket exists in Redmine
            for hub_id in ids:
                links = (await hub.get(f"/api/v1/tickets/{hub_id}")).json()["links"]
                for link in links:
                    if link["role"] == "assignee":
                        issues[hub_id] = link["external_id"]
            await asyncio.sleep(0.5)
        await asyncio.sleep(interval * 1.5)  # the poll that reads the new issues, once
        before = (await hub.get("/metrics")).text
        await asyncio.sleep(interval * 3 + 0.5)  # idle polls
        after = (await hub.get("/metrics")).text
        polls = metric(after, "gateway_polls_total") - metric(before, "gateway_polls_total")
        requests = metric(after, "gateway_poll_requests_total") - metric(
            before, "gateway_poll_requests_total"
        )
        per_idle_poll = requests / polls if polls else float("nan")
        latencies = []
        with redmine.api(as_user="jnovak") as staff:
            for hub_id, issue in issues.items():
                await asyncio.sleep(random.uniform(0, interval))
                staff.put(
                    f"/issues/{issue}.json", json={"issue": {"status_id": 3, "notes": "fixed"}}
                ).raise_for_status()
                changed = time.monotonic()
                await solved(hub, hub_id)
                latencies.append(time.monotonic() - changed)
        return per_idle_poll, latencies


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    redmine = running_redmine()
    project, project_id = redmine.new_project()
    seconds = fill(project_id, args.issues, redmine.facts["hub_id_field"])
    print(f"project {project}: {args.issues} issues written in {seconds:.1f} s", flush=True)
    report = {}
    for backend in backends(args.backend):
        with database(backend) as url, tempfile.TemporaryDirectory() as tmp:
            env = {
                "GATEWAY_DATABASE_URL": url,
                "DMSU_REDMINE_URL": redmine.url,
                "DMSU_REDMINE_API_KEY": redmine.api_key,
                "DMSU_REDMINE_PROJECT": project,
                "NGI_CZ_ZNUNY_URL": "http://127.0.0.1:9",
                "NGI_CZ_ZNUNY_PASSWORD": "x",
                "NGI_CZ_ZNUNY_TOKEN": "x",
            }
            path = config(Path(tmp) / "gateway.yaml", args.interval)
            key = gateway_cli("create-key", "--name", "bench", "--config", str(path), env=env)
            port = free_port()
            with process(
                [str(BIN / "gateway"), "serve", "--config", str(path), "--port", str(port)],
                env={**os.environ, **env},
                ready_url=f"http://127.0.0.1:{port}/readyz",
            ):
                per_poll, latencies = asyncio.run(
                    measure(f"http://127.0.0.1:{port}", key, redmine, args.changes, args.interval)
                )
        goal = args.interval + 1
        worst = max(latencies)
        print(
            f"{backend}: idle poll {per_poll:.2f} requests (goal 1, ratio {per_poll:.2f}x); "
            f"change -> hub p50 {median(latencies):.2f} s, max {worst:.2f} s against "
            f"interval + 1 s = {goal:.1f} s (ratio {worst / goal:.2f}x, goal <= 1.0)",
            flush=True,
        )
        report[backend] = {
            "requests_per_idle_poll": per_poll,
            "latencies": latencies,
            "interval": args.interval,
            "issues": args.issues,
        }
    print(f"saved {save('redmine_poll', report)}")


if __name__ == "__main__":
    main()
