"""Ticket-create throughput through the real HTTP server vs. a bare one-row insert endpoint.

    python bench/create_throughput.py [--backend sqlite|postgresql|both] [--seconds 8] [--rounds 2]

Both servers run as uvicorn subprocesses with the same settings against the same kind of
database; rounds alternate baseline/gateway so noise hits both. Goal: gateway >= 0.7x baseline.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BIN,
    DEMO_ENV,
    ROOT,
    alternate,
    arguments,
    backends,
    closed_loop,
    database,
    free_port,
    gateway_cli,
    process,
    save,
)

BODY = {
    "subject": "SRM at DESY refuses writes",
    "description": "srmcp fails with SRM_AUTHORIZATION_FAILURE since this morning",
    "submitter": {"name": "Ann Example", "email": "ann@example.org"},
}


def run_gateway(url: str, seconds: float, concurrency: int) -> float:
    sink_port = free_port()
    env = {
        **DEMO_ENV,
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_MAIL_PORT": str(free_port()),  # the example's mail listener, out of the way
        # each create mails the submitter an acknowledgement: to a sink, as in the example
        "GATEWAY_MAIL_SINK_PORT": str(sink_port),
    }
    key = gateway_cli("create-key", "--name", "bench", "--config", "examples/gateway.yaml", env=env)
    port = free_port()
    args = [
        str(BIN / "gateway"),
        "serve",
        "--config",
        "examples/gateway.yaml",
        "--port",
        str(port),
        "--no-migrate",
    ]
    sink = [sys.executable, "examples/mail_sink.py", "--port", str(sink_port)]
    sink += ["--dir", "-", "--quiet"]
    with (
        process(sink, {}),
        process(args, env, ready_url=f"http://127.0.0.1:{port}/readyz"),
    ):
        return _measure(
            f"http://127.0.0.1:{port}/api/v1/tickets",
            {"Authorization": f"Bearer {key}"},
            seconds,
            concurrency,
        )


def run_baseline(url: str, seconds: float, concurrency: int) -> float:
    port = free_port()
    args = [
        sys.executable,
        str(ROOT / "bench" / "baseline_app.py"),
        "--port",
        str(port),
        "--database-url",
        url,
    ]
    with process(args, {}, ready_url=f"http://127.0.0.1:{port}/readyz"):
        return _measure(f"http://127.0.0.1:{port}/tickets", {}, seconds, concurrency)


def _measure(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> float:
    asyncio.run(closed_loop(url, BODY, headers, seconds=1.5, concurrency=concurrency))  # warm-up
    result = asyncio.run(closed_loop(url, BODY, headers, seconds=seconds, concurrency=concurrency))
    if result.errors:
        print(f"  ! {result.errors} errors, first: {result.first_error}", flush=True)
    return result.rate


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    chosen = backends(args.backend)
    report = {}
    for backend in chosen:

        def baseline(backend: str = backend) -> float:
            with database(backend) as url:
                return run_baseline(url, args.seconds, args.concurrency)

        def gateway(backend: str = backend) -> float:
            with database(backend) as url:
                return run_gateway(url, args.seconds, args.concurrency)

        base, gate = alternate(backend, args.rounds, baseline, gateway)
        report[backend] = {"baseline_per_s": base, "gateway_per_s": gate, "ratio": gate / base}
    print("\nbackend      baseline/s   gateway/s   ratio (goal >= 0.70)")
    for backend, figures in report.items():
        print(
            f"{backend:<12} {figures['baseline_per_s']:10.0f} {figures['gateway_per_s']:11.0f}   "
            f"{figures['ratio']:.2f}x"
        )
    saved = save(
        "create_throughput", {"concurrency": args.concurrency, "seconds": args.seconds, **report}
    )
    print(f"saved {saved}")


if __name__ == "__main__":
    main()
