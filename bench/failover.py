"""Failover: how fast a SIGKILLed instance's work moves to the survivor, and a rolling restart.

    python bench/failover.py [--runs 3] [--rate 30]

Two `gateway serve` instances share one PostgreSQL database (a fresh one per run) and a remote
helpdesk that answers each push after 1 s, so every instance always holds claimed deliveries. A
client creates tickets at `--rate` on both, retrying on the other instance with the same
Idempotency-Key. While creates are stalled mid-transaction (the test holds the tickets table),
one instance is SIGKILLed. Reported per run: what it held, how long until it held nothing
(claims and keys taken over; goal < 2 s, limit 5 s), until every create in flight at it was
answered, and the delivery p99 of what it had claimed against the p99 of every other delivery of
the same run (the baseline: same load, same machine, same moment). Then a rolling restart (each
instance SIGTERMed and started again under load): errors seen by the client, delivery p99 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, save
from tests.support.cluster import Cluster, failover, rolling_restart
from tests.support.databases import postgres_database


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        with (
            postgres_database() as url,
            tempfile.TemporaryDirectory() as tmp,
            Cluster(url, Path(tmp), remote_delay=1.0) as cluster,
        ):
            report = asyncio.run(failover(cluster, rate=args.rate, before=3.0, after=3.0))
        runs.append(report)
        ratio = report.delivery_p99_its / report.delivery_p99_rest
        print(
            f"run {n + 1}: held {report.held_at_kill[0]} deliveries, {report.held_at_kill[1]} "
            f"creates; taken over after {report.taken_over_after:.2f} s, claimed again by the "
            f"survivor after {report.claims_moved_after:.2f} s; its creates "
            f"answered after {report.its_creates_answered_after:.2f} s, its deliveries done "
            f"after {report.its_deliveries_done_after:.2f} s; delivery p99 "
            f"{report.delivery_p99_its:.2f} s vs {report.delivery_p99_rest:.2f} s for the rest "
            f"({ratio:.2f}x); {report.creates} creates, {report.lost} lost, "
            f"{report.hub_tickets - report.creates} duplicate, {report.remote_duplicates} remote "
            f"duplicates",
            flush=True,
        )
    with (
        postgres_database() as url,
        tempfile.TemporaryDirectory() as tmp,
        Cluster(url, Path(tmp), remote_delay=0.1) as cluster,
    ):
        restart = asyncio.run(rolling_restart(cluster, rate=args.rate, settle=3.0))
    print(
        f"rolling restart: {restart.creates} creates, {restart.lost} lost, "
        f"{restart.server_errors} 5xx, delivery p99 {restart.delivery_p99:.2f} s, "
        f"max {restart.delivery_max:.2f} s (first push started at most "
        f"{restart.claim_wait_max:.2f} s after the change), answers {restart.answers}"
    )
    taken = median([r.taken_over_after for r in runs])
    moved = median([r.claims_moved_after for r in runs])
    answered = median([r.its_creates_answered_after for r in runs])
    ratio = median([r.delivery_p99_its / r.delivery_p99_rest for r in runs])
    print(
        f"\nmedian of {len(runs)}: its claims and keys released in {taken:.2f} s (goal < 2 s) "
        f"and claimed again in {moved:.2f} s; its creates answered in {answered:.2f} s; its "
        f"deliveries' p99 {ratio:.2f}x the rest's"
    )
    path = save(
        "failover",
        {"runs": [asdict(r) for r in runs], "rolling_restart": asdict(restart)},
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
