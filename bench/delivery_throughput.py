"""Delivery throughput of a `gateway worker` vs. a raw httpx loop sending the same requests.

    python bench/delivery_throughput.py [--backend sqlite|postgresql|both] [--tickets N]

The sink is the reference helpdesk (examples/helpdesk.py) in its own process, fresh for every
round. The gateway side seeds the outbox (one create and N public entries per ticket), starts a
worker process and measures from its first attempt to its last result, as recorded in the
delivery log. The baseline posts the same requests with httpx, per ticket in order, with the
same concurrency. Goal: gateway >= 0.5x baseline.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml
from sqlalchemy import func, select

from bench.common import (
    BIN,
    DEMO_ENV,
    ROOT,
    alternate,
    arguments,
    backends,
    database,
    free_port,
    gateway_cli,
    process,
    save,
)
from gateway.api.app import connections_for
from gateway.config.loader import parse_config
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.settings import Settings
from gateway.sync.tables import DeliveryAttemptRow, OutboxRow
from tests.support.configs import rest_connection
from tests.support.seed import seed_outbox

CONCURRENCY = 32


def config(sink_url: str) -> dict:
    return {
        "support_units": [{"name": "DMSU", "level": "second"}],
        "connections": [
            rest_connection("sink", "DMSU", sink_url, token_env="NGI_DE_HELPDESK_TOKEN")
        ],
    }


async def seed(url: str, raw: dict, n_tickets: int, n_entries: int) -> int:
    gateway_config = parse_config(raw)
    connections = connections_for(Settings(), gateway_config)
    try:
        return await seed_outbox(
            url,
            gateway_config,
            connections,
            unit="DMSU",
            n_tickets=n_tickets,
            entries_per_ticket=n_entries,
        )
    finally:
        await connections.aclose()


async def delivered_window(url: str) -> tuple[int, float]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            done = await session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.state == "done")
            )
            first = await session.scalar(select(func.min(DeliveryAttemptRow.started_at)))
            last = await session.scalar(select(func.max(DeliveryAttemptRow.finished_at)))
            span = (last - first).total_seconds() if first and last else 0.0
            return int(done or 0), span
    finally:
        await engine.dispose()


SINK_AUTH = {"Authorization": f"Bearer {DEMO_ENV['NGI_DE_HELPDESK_TOKEN']}"}


def sink() -> tuple[list[str], str]:
    port = free_port()
    return [
        sys.executable,
        str(ROOT / "examples" / "helpdesk.py"),
        "serve",
        "--port",
        str(port),
    ], f"http://127.0.0.1:{port}"


def run_gateway(backend: str, n_tickets: int, n_entries: int, tmp: Path) -> float:
    args, sink_url = sink()
    with (
        process(args, DEMO_ENV, ready_url=f"{sink_url}/", ready_headers=SINK_AUTH),
        database(backend) as url,
    ):
        raw = config(sink_url)
        path = tmp / "bench.yaml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        env = {**DEMO_ENV, "GATEWAY_DATABASE_URL": url, "GATEWAY_LOG_LEVEL": "WARNING"}
        gateway_cli("migrate", "--config", str(path), env=env)
        total = asyncio.run(seed(url, raw, n_tickets, n_entries))
        worker = [
            str(BIN / "gateway"),
            "worker",
            "--config",
            str(path),
            "--concurrency",
            str(CONCURRENCY),
        ]
        with process(worker, env):
            deadline = time.monotonic() + 300
            while asyncio.run(delivered_window(url))[0] < total and time.monotonic() < deadline:
                time.sleep(0.25)
        done, span = asyncio.run(delivered_window(url))
        if done < total:
            raise RuntimeError(f"only {done} of {total} delivered")
        return total / span


async def raw_loop(sink_url: str, n_tickets: int, n_entries: int) -> float:
    headers = {"Authorization": f"Bearer {DEMO_ENV['NGI_DE_HELPDESK_TOKEN']}"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(n_tickets):
        queue.put_nowait(n)
    key = iter(range(1, 10**9))

    async with httpx.AsyncClient(
        base_url=sink_url, headers=headers, limits=limits, timeout=30
    ) as client:

        async def one_ticket(n: int) -> None:
            body = {
                "title": f"t{n}",
                "body": "d",
                "requester": {"name": "A", "email": "a@example.org"},
                "priority": "low",
                "status": "open",
                "external_id": n,
            }
            created = await client.post(
                "/tickets", json=body, headers={"Idempotency-Key": f"raw-{next(key)}"}
            )
            remote_id = created.json()["id"]
            for e in range(n_entries):
                await client.post(
                    f"/tickets/{remote_id}/comments",
                    json={"body": f"entry {e}", "author": "bench"},
                    headers={"Idempotency-Key": f"raw-{next(key)}"},
                )

        async def lane() -> None:
            while not queue.empty():
                await one_ticket(queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
        return n_tickets * (1 + n_entries) / (time.perf_counter() - started)


def run_baseline(n_tickets: int, n_entries: int) -> float:
    args, sink_url = sink()
    with process(args, DEMO_ENV, ready_url=f"{sink_url}/", ready_headers=SINK_AUTH):
        return asyncio.run(raw_loop(sink_url, n_tickets, n_entries))


def main() -> None:
    import tempfile

    parser = arguments(__doc__)
    parser.add_argument("--tickets", type=int, default=150)
    parser.add_argument("--entries", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.update(DEMO_ENV)  # the seed builds the connection in this process too
    chosen = backends(args.backend)
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in chosen:
            base, gate = alternate(
                backend,
                args.rounds,
                lambda: run_baseline(args.tickets, args.entries),
                lambda b=backend: run_gateway(b, args.tickets, args.entries, Path(tmp)),
                names=("raw httpx", "worker"),
            )
            report[backend] = {"raw_httpx_per_s": base, "worker_per_s": gate, "ratio": gate / base}
    deliveries = args.tickets * (1 + args.entries)
    print(f"\n{deliveries} deliveries per round, concurrency {CONCURRENCY}")
    print("backend      raw httpx/s   worker/s   ratio (goal >= 0.50)")
    for backend, figures in report.items():
        raw, worker, ratio = figures["raw_httpx_per_s"], figures["worker_per_s"], figures["ratio"]
        print(f"{backend:<12} {raw:11.0f} {worker:10.0f}   {ratio:.2f}x")
    print(f"saved {save('delivery_throughput', {'deliveries': deliveries, **report})}")


if __name__ == "__main__":
    main()
