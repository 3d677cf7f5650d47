"""Shared pieces of the benchmarks: fresh databases, subprocess servers, load, statistics.

Every benchmark measures the gateway and a baseline in the same run, alternating rounds, and
prints the ratio: this machine is shared and noisy, so absolute figures alone mean little.
Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.databases import database as database  # the benchmarks' fresh databases

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
DEMO_ENV = {
    "NGI_DE_HELPDESK_TOKEN": "demo-token",
    "NGI_DE_WEBHOOK_SECRET": "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItdGhlLWV4YW1wbGU=",
}


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's command line, with `--backend sqlite|postgresql|both` (default both)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    return parser


def backends(choice: str) -> list[str]:
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


def alternate(
    label: str,
    rounds: int,
    baseline: Callable[[], float],
    gateway: Callable[[], float],
    names: tuple[str, str] = ("baseline", "gateway"),
) -> tuple[float, float]:
    """Run baseline and gateway in alternating rounds, so noise hits both; their median rates."""
    baseline_rates, gateway_rates = [], []
    for round_no in range(rounds):
        baseline_rates.append(baseline())
        gateway_rates.append(gateway())
        print(
            f"{label} round {round_no + 1}: {names[0]} {baseline_rates[-1]:7.0f}/s  "
            f"{names[1]} {gateway_rates[-1]:7.0f}/s",
            flush=True,
        )
    return median(baseline_rates), median(gateway_rates)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def process(
    args: list[str],
    env: dict[str, str],
    ready_url: str | None = None,
    ready_headers: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a subprocess, killed at the end whatever happens; wait for `ready_url` to answer.

    Its output goes to a file, never to a pipe: a pipe nobody reads fills up after a few hundred
    log lines and then stalls the server mid-run.
    """
    log = tempfile.NamedTemporaryFile(prefix="gw-bench-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_path = Path(log.name)  # type: ignore[attr-defined]
    log.close()
    try:
        if ready_url:
            wait_ready(ready_url, proc, headers=ready_headers)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        Path(log.name).unlink(missing_ok=True)


def wait_ready(
    url: str,
    proc: subprocess.Popen[bytes],
    limit: float = 30,
    headers: dict[str, str] | None = None,
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = getattr(proc, "log_path", None)
            error = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"{url}: process exited: {error}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {limit}s")


def gateway_cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(BIN / "gateway"), *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


@dataclass
class LoadResult:
    ok: int
    errors: int
    seconds: float
    first_error: str | None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def closed_loop(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    seconds: float,
    concurrency: int,
    expect: int = 201,
) -> LoadResult:
    """`concurrency` clients posting back to back for `seconds`; counts answers with `expect`."""
    ok = errors = 0
    first_error: str | None = None
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        stop_at = time.perf_counter() + seconds

        async def one_client() -> None:
            nonlocal ok, errors, first_error
            while time.perf_counter() < stop_at:
                try:
                    response = await client.post(url, json=body, headers=headers)
                except httpx.TransportError as exc:  # counted and shown; the run goes on
                    errors += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"
                    continue
                if response.status_code == expect:
                    ok += 1
                else:
                    errors += 1
                    first_error = first_error or f"{response.status_code} {response.text[:300]}"

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(ok, errors, elapsed, first_error)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path
