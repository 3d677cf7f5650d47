"""How soon a change made in a real Request Tracker reaches the hub, by polling and by RT's scrip,
and what an idle poll costs.

    python bench/rt_sync.py [--interval 5] [--changes 10] [--backend sqlite|postgresql|both]

Needs the RT of `.ci/rt` (Debian's request-tracker5 on loopback; the script runs it, as root the
first time; root also puts the scrip in place). `gateway serve` runs examples/rt-flow.yaml's
`dmsu-rt` connection on a queue of its own. `--changes` hub tickets are assigned to DMSU, so they
exist in RT; each is then resolved there by a person (a reply with `Status: resolved`) at a
random moment, and the time until the hub shows it solved is measured: first with polling every
`--interval` seconds alone, then with the scrip calling the hub's webhook (the poll interval
then 60 s, so only the scrip can be quick).

Goals: an idle poll is one request; a change reaches the hub within the interval plus one second
by polling, within one second through the scrip. Printed as ratios against those baselines (a
perfect poller meets interval + 1 s; above 1.0 misses the goal).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
from tests.support.rt import FACTS, RT

SECRET = "whsec_YmVuY2gtcnQtc2NyaXAtc2VjcmV0LWZvci1tZWFzdXJpbmc="


def running_rt(webhook: str | None = None) -> RT:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RT_WEBHOOK_")}
    if webhook is not None:
        env |= {"RT_WEBHOOK_URL": webhook, "RT_WEBHOOK_SECRET": SECRET}
    subprocess.run(
        ["bash", str(ROOT / ".ci" / "rt")], check=True, stdout=subprocess.DEVNULL, env=env
    )
    facts = json.loads(FACTS.read_text())
    return RT(facts["url"], facts["rest_url"], facts["user"], facts["password"], facts)


def config(path: Path, queue: str, interval: float) -> Path:
    raw = yaml.safe_load((ROOT / "examples" / "rt-flow.yaml").read_text())
    raw["connections"] = [c for c in raw["connections"] if c["name"] == "dmsu-rt"]
    raw["connections"][0]["poll_interval_seconds"] = interval
    raw["connections"][0]["settings"]["queue"] = queue
    path.write_text(yaml.safe_dump(raw))
    return path


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and 'connection="dmsu-rt"' in line
    )


async def assigned(hub: httpx.AsyncClient, changes: int) -> dict[int, str]:
    """`changes` hub tickets assigned to DMSU, once each exists in RT: hub id -> RT id."""
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
    made: dict[int, str] = {}
    while len(made) < changes:
        for hub_id in ids:
            for link in (await hub.get(f"/api/v1/tickets/{hub_id}")).json()["links"]:
                if link["role"] == "assignee" and link["external_id"]:
                    made[hub_id] = link["external_id"]
        await asyncio.sleep(0.3)
    return made


async def resolve_each(
    hub: httpx.AsyncClient, rt: RT, tickets: dict[int, str], spread: float
) -> list[float]:
    latencies = []
    with rt.api(as_staff=True) as staff:
        for hub_id, rt_id in tickets.items():
            await asyncio.sleep(random.uniform(0, spread))
            staff.post(
                f"/ticket/{rt_id}/correspond",
                json={"Content": "fixed", "ContentType": "text/plain", "Status": "resolved"},
            ).raise_for_status()
            changed = time.monotonic()
            while (await hub.get(f"/api/v1/tickets/{hub_id}")).json()["status"] != "solved":
                if time.monotonic() - changed > 120:
                    raise RuntimeError(f"#{hub_id} not solved at the hub within 120 s")
                await asyncio.sleep(0.05)
            latencies.append(time.monotonic() - changed)
    return latencies


async def measure_polling(
    url: str, key: str, rt: RT, changes: int, interval: float
) -> tuple[float, list[float]]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as hub:
        tickets = await assigned(hub, changes)
        await asyncio.sleep(interval * 1.5)  # the poll that reads the new tickets, once
        before = (await hub.get("/metrics")).text
        await asyncio.sleep(interval * 3 + 0.5)  # idle polls
        after = (await hub.get("/metrics")).text
        polls = metric(after, "gateway_polls_total") - metric(before, "gateway_polls_total")
        requests = metric(after, "gateway_poll_requests_total") - metric(
            before, "gateway_poll_requests_total"
        )
        per_idle_poll = requests / polls if polls else float("nan")
        return per_idle_poll, await resolve_each(hub, rt, tickets, interval)


async def measure_scrip(url: str, key: str, rt: RT, changes: int) -> list[float]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as hub:
        tickets = await assigned(hub, changes)
        await asyncio.sleep(2)  # the creates' own scrip calls are over
        return await resolve_each(hub, rt, tickets, 1.0)


def serve_and(backend: str, rt: RT, interval: float, work: Any, *, scrip: bool = False) -> Any:
    queue, _ = rt.new_queue()
    with database(backend) as url, tempfile.TemporaryDirectory() as tmp:
        env = {
            "GATEWAY_DATABASE_URL": url,
            "DMSU_RT_URL": rt.url,
            "DMSU_RT_PASSWORD": rt.password,
            "DMSU_RT_WEBHOOK_SECRET": SECRET,
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        path = config(Path(tmp) / "gateway.yaml", queue, interval)
        key = gateway_cli("create-key", "--name", "bench", "--config", str(path), env=env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with process(
            [str(BIN / "gateway"), "serve", "--config", str(path), "--port", str(port)],
            env={**os.environ, **env},
            ready_url=f"{base}/readyz",
        ):
            if scrip:
                running_rt(f"{base}/api/v1/webhooks/dmsu-rt")
            try:
                return asyncio.run(work(base, key))
            finally:
                if scrip:
                    running_rt(None)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    rt = running_rt(None)
    report: dict[str, Any] = {}
    for backend in backends(args.backend):
        per_poll, polled = serve_and(
            backend,
            rt,
            args.interval,
            lambda url, key: measure_polling(url, key, rt, args.changes, args.interval),
        )
        scripted: list[float] = []
        if os.geteuid() == 0:
            scripted = serve_and(
                backend,
                rt,
                60,
                lambda url, key: measure_scrip(url, key, rt, args.changes),
                scrip=True,
            )
        goal = args.interval + 1
        print(
            f"{backend}: idle poll {per_poll:.2f} requests (goal 1, ratio {per_poll:.2f}x); "
            f"polling: change -> hub p50 {median(polled):.2f} s, max {max(polled):.2f} s "
            f"against interval + 1 s = {goal:.1f} s (ratio {max(polled) / goal:.2f}x, goal <= 1.0)",
            flush=True,
        )
        if scripted:
            print(
                f"{backend}: scrip: change -> hub p50 {median(scripted):.2f} s, max "
                f"{max(scripted):.2f} s against 1 s (ratio {max(scripted):.2f}x, goal <= 1.0)",
                flush=True,
            )
        else:
            print(f"{backend}: scrip not measured (putting it in place in RT needs root)")
        report[backend] = {
            "requests_per_idle_poll": per_poll,
            "polling_latencies": polled,
            "scrip_latencies": scripted,
            "interval": args.interval,
        }
    print(f"saved {save('rt_sync', report)}")


if __name__ == "__main__":
    main()
