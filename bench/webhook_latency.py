"""End-to-end latency from an inbound webhook to the outbound push, at a steady event rate.

    python bench/webhook_latency.py [--backend sqlite|postgresql|both] [--rate 50] [--seconds 20]

A signed `ticket.created` webhook from one helpdesk goes into `gateway serve` (API and embedded
worker); the ticket is routed to a unit whose system is the sink, a reference helpdesk in this
process. Latency = when the sink received the create - when the webhook was sent. The baseline
sends the same events straight to the sink at the same rate: the floor of this machine's loopback
HTTP. Goal: p99 under 250 ms on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml

from bench.common import BIN, arguments, backends, database, free_port, percentile, process, save
from bench.latency import arrivals, direct, stages, steady
from examples.helpdesk import Helpdesk, asend_event, serving
from gateway.sync.tables import OutboxRow
from tests.support.configs import rest_connection

SECRET = "whsec_YmVuY2gtbGF0ZW5jeS1zZWNyZXQ="
ENV = {"BENCH_SECRET": SECRET, "BENCH_TOKEN": "bench-token", "GATEWAY_LOG_LEVEL": "WARNING"}


def config(sink_url: str) -> dict:
    def connection(name: str, unit: str) -> dict:
        return rest_connection(
            name, unit, sink_url, token_env="BENCH_TOKEN", secret_env="BENCH_SECRET"
        )

    return {
        "support_units": [
            {"name": "NGI_DE", "level": "first"},
            {"name": "DMSU", "level": "second"},
        ],
        "connections": [connection("origin", "NGI_DE"), connection("assignee", "DMSU")],
    }


def without_id(ticket: dict) -> dict:
    """The same ticket as a create request to the helpdesk (which assigns the id)."""
    return {key: value for key, value in ticket.items() if key != "id"}


def event(title: str) -> dict:
    return {
        "type": "ticket.created",
        "ticket": {
            "id": title,
            "title": title,
            "body": "latency probe",
            "requester": {"name": "A", "email": "a@example.org"},
            "priority": "low",
            "group": "DMSU",
        },
    }


def run_gateway(
    backend: str, rate: float, seconds: float, tmp: Path, workers: int
) -> tuple[list[float], dict[str, Any]]:
    desk = Helpdesk(name="sink", token="bench-token")
    with serving(desk.app()) as sink_url, database(backend) as url:
        path = tmp / "latency.yaml"
        path.write_text(yaml.safe_dump(config(sink_url)), encoding="utf-8")
        port = free_port()
        env = {**ENV, "GATEWAY_DATABASE_URL": url}
        args = [str(BIN / "gateway"), "serve", "--config", str(path), "--port", str(port)]
        worker = [str(BIN / "gateway"), "worker", "--config", str(path)]
        if workers:
            args.append("--no-worker")
        with contextlib.ExitStack() as stack:
            stack.enter_context(process(args, env, ready_url=f"http://127.0.0.1:{port}/readyz"))
            for _ in range(workers):
                stack.enter_context(process(worker, env))
            hook = f"http://127.0.0.1:{port}/api/v1/webhooks/origin"

            async def load(duration: float) -> dict[str, float]:
                async with httpx.AsyncClient(timeout=30) as client:

                    async def send(title: str) -> str | None:
                        response = await asend_event(hook, SECRET, event(title), client=client)
                        return (
                            None
                            if response.status_code == 202
                            else f"{response.status_code} {response.text[:200]}"
                        )

                    return await steady(rate, duration, send)

            arrivals(desk, asyncio.run(load(2)))  # warm-up
            sent = asyncio.run(load(seconds))
            arrived = arrivals(desk, sent)
            breakdown = asyncio.run(
                stages(url, sent, arrived, written=OutboxRow.created_at, first="accepted")
            )
            return [(at - sent[t]) * 1000 for t, at in arrived.items()], breakdown


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: the worker embedded in `serve`; N: `serve --no-worker` and N `gateway worker`s",
    )
    args = parser.parse_args()
    os.environ.update(ENV)
    chosen = backends(args.backend)
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in chosen:
            base = direct(args.rate, args.seconds, lambda title: without_id(event(title)["ticket"]))
            gate, breakdown = run_gateway(backend, args.rate, args.seconds, Path(tmp), args.workers)
            report[backend] = {
                "events": len(gate),
                "gateway_p50_ms": percentile(gate, 50),
                "gateway_p99_ms": percentile(gate, 99),
                "direct_p50_ms": percentile(base, 50),
                "direct_p99_ms": percentile(base, 99),
                "stages": breakdown,
            }
            report[backend]["p99_ratio"] = (
                report[backend]["gateway_p99_ms"] / report[backend]["direct_p99_ms"]
            )
    layout = f"{args.workers} worker process(es)" if args.workers else "worker embedded in serve"
    print(f"\n{args.rate:.0f} events/s for {args.seconds:.0f} s, {layout}; webhook -> push (ms)")
    print("backend      gateway p50   p99 (goal < 250)   direct p50   p99   p99 ratio")
    for backend, f in report.items():
        print(
            f"{backend:<12} {f['gateway_p50_ms']:11.1f} {f['gateway_p99_ms']:7.1f}"
            f" {f['direct_p50_ms']:19.1f} {f['direct_p99_ms']:6.1f} {f['p99_ratio']:8.1f}x"
        )
    print("where the time goes (p50 / p99 ms):")
    for backend, f in report.items():
        print(
            f"{backend:<12} "
            + "   ".join(
                f"{stage} {v['p50_ms']:.1f} / {v['p99_ms']:.1f}" for stage, v in f["stages"].items()
            )
        )
    print(
        f"saved {save('webhook_latency', {'rate': args.rate, 'workers': args.workers, **report})}"
    )


if __name__ == "__main__":
    main()
