"""Scale: PostgreSQL holding 1,000,000 tickets of realistic shape, served by `gateway serve`.

The generator fills a fresh database through the migrations and then `COPY` (asyncpg's binary
copy): tickets over five years across 40 units of the three levels, their history, public and
internal entries, links to the units' systems, assignments with passes to the third line, ETAs
and their revisions. Then, over real HTTP and alternating rounds so noise hits every kind alike:

- the baseline, a primary-key read (`GET /api/v1/tickets/{id}`, random ids);
- list pages: a unit's tickets in one status, a deep page by cursor, the recently updated;
- search (`?q=`): a common word, a host name in few tickets, a word in none;
- a quarter's metrics for the largest unit (`GET /api/v1/metrics`).

Goals: list and search p99 within 5x of the primary-key read's p99; the quarter under 2 s; the
gateway's peak resident memory under 250 MB.

    .venv/bin/python bench/scale.py [--tickets 1000000] [--rounds 8]
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BIN,
    RESULTS,
    arguments,
    database,
    free_port,
    gateway_cli,
    percentile,
    process,
)

START = datetime(2021, 12, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = 20_000
THIRD = [
    "dCache", "FTS", "ARC", "HTCondor", "CREAM", "StoRM", "DPM", "XRootD", "Rucio", "CVMFS",
    "VOMS", "Argus", "APEL", "GOCDB", "EOS", "FRONTIER", "Squid", "UNICORE", "gLite-WMS",
    "perfSONAR", "Nagios", "BDII", "LFC", "AMGA", "Ganga",
]  # fmt: skip
SECOND = ["DMSU", "Operations", "Security", "VO-Support"]
FIRST = ["TPM", *[f"NGI_{c}" for c in ("DE", "CZ", "FR", "IT", "UK", "NL", "PL", "ES", "CH", "SE")]]
SITES = [
    f"{p}-{n}"
    for p in ("FZK", "CERN", "IN2P3", "INFN", "RAL", "SARA", "CYF", "PIC")
    for n in range(40)
]
VOS = ["atlas", "cms", "lhcb", "alice", "biomed", "belle", "km3net", "auger", "ops", "dteam"]
VOCABULARY = (
    "job jobs abort aborted fail failed failing proxy expired certificate CRL CA voms-proxy- "
    "init srmcp srmls gfal-copy transfer transfers stuck timeout timeouts pool pools offline "
    "queue submission held idle running glexec pilot pilots storage element computing element "
    "SE CE read write writes permission denied quota full disk tape staging checksum mismatch "
    "file files missing catalogue replica replicas site downtime scheduled unscheduled BDII "
    "information system publishing wrong values accounting records missing since yesterday "
    "after upgrade the to of in at with and for from on since error errors message log logs "
    "attached please check again still same problem users affected many several "
)
WORDS = tuple(VOCABULARY.split())
STATUS = [("closed", 60), ("verified", 22), ("solved", 5), ("unsolved", 2), ("in progress", 4),
          ("assigned", 3), ("waiting for reply", 2), ("on hold", 1), ("new", 1)]  # fmt: skip
PRIORITY = [("less urgent", 60), ("urgent", 28), ("very urgent", 9), ("top priority", 3)]
CATEGORY = [("Incident", 80), ("Change Request", 12), ("Documentation", 5), ("Test", 3)]
TYPE = [("USER", 95), ("TEAM", 4), ("ALARM", 1)]
CONFIG = """
support_units:
{units}
routing: {{default_support_unit: TPM}}
process:
  check_every_seconds: 3600
  waiting_for_reply: {{reminders_after_days: [], unsolved_after_days: null}}
  auto_close: {{after_days: null}}
  response_targets: {{hours: {{}}}}
"""


def weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


class Shape:
    """Where the tickets go: units by Zipf-like weight, 20,000 submitters."""

    def __init__(self, rng: random.Random, total: int) -> None:
        self.rng = rng
        self.total = total
        self.units = [(n, "first") for n in FIRST] + [(n, "second") for n in SECOND]
        self.units += [(n, "third") for n in THIRD]
        self.ids = {name: i + 1 for i, (name, _) in enumerate(self.units)}
        self.first = [self.ids[n] for n in FIRST]
        self.second = [self.ids[n] for n in SECOND]
        self.third = [self.ids[n] for n in THIRD]
        self.holder_weights = [1.0 / (rank + 1) for rank in range(len(self.units))]
        self.people = [
            (f"User {n}", f"user{n}@{rng.choice(SITES).lower()}.example.org") for n in range(20_000)
        ]

    def text(self, words: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=words))

    def host(self, site: str) -> str:
        return f"se{self.rng.randint(1, 9)}.{site.lower()}.example.org"


def config_text(shape: Shape) -> str:
    units = "\n".join(f"  - {{name: {name}, level: {level}}}" for name, level in shape.units)
    return CONFIG.format(units=units)


async def fill(url: str, tickets: int, shape: Shape) -> dict[str, int]:
    """COPY the store full; indexes other than keys are dropped for the load and built after."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    tables = ["tickets", "ticket_changes", "journal_entries", "links", "ticket_assignments",
              "eta_revisions"]  # fmt: skip
    try:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = ANY($1) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            tables,
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.execute("SET session_replication_role = replica")  # no FK checks while loading
        counts = dict.fromkeys(tables, 0)
        started = time.monotonic()
        for first in range(1, tickets + 1, BATCH):
            rows = _batch(shape, first, min(first + BATCH, tickets + 1))
            for table, records in rows.items():
                await conn.copy_records_to_table(
                    table, records=records, columns=list(COLUMNS[table])
                )
                counts[table] += len(records)
            done = min(first + BATCH - 1, tickets)
            if done % 200_000 < BATCH:
                rate = done / (time.monotonic() - started)
                print(f"  {done:>9,} tickets ({rate:,.0f}/s)", flush=True)
        await conn.execute("SET session_replication_role = DEFAULT")
        print(f"  building {len(indexes)} indexes", flush=True)
        for index in indexes:
            await conn.execute(index["indexdef"])
        for table in tables:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute("ANALYZE")
        return counts
    finally:
        await conn.close()


COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("id", "subject", "description", "submitter_name", "submitter_email", "type",
                "category", "priority", "status", "support_unit_id", "origin_unit_id", "cc",
                "component", "affected_site", "vo", "eta", "solution", "created_at",
                "updated_at", "version"),
    "ticket_changes": ("id", "ticket_id", "version", "action", "actor", "source", "changes", "at"),
    "journal_entries": ("id", "ticket_id", "visibility", "body", "author", "source",
                        "created_at"),
    "links": ("id", "ticket_id", "connection", "external_id", "external_url", "role",
              "created_at"),
    "ticket_assignments": ("id", "ticket_id", "support_unit_id", "assigned_at",
                           "passed_by_unit_id", "answered_at", "solved_at", "ended_at",
                           "passed_to_unit_id"),
    "eta_revisions": ("id", "ticket_id", "eta", "set_by", "set_at"),
}  # fmt: skip


class _Ids:
    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def __call__(self, table: str) -> int:
        value = self.next.get(table, 1)
        self.next[table] = value + 1
        return value


IDS = _Ids()


def _batch(shape: Shape, first: int, after: int) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
    rng = shape.rng
    span = (END - START).total_seconds()
    for hub_id in range(first, after):
        created = START + timedelta(seconds=span * (hub_id - 1) / shape.total)
        created += timedelta(seconds=rng.randint(0, 3600))
        site = rng.choice(SITES)
        component = rng.choice(THIRD)
        status = weighted(rng, STATUS)
        holder = rng.choices(range(1, len(shape.units) + 1), shape.holder_weights)[0]
        name, email = rng.choice(shape.people)
        hours = lambda lo, hi: timedelta(hours=rng.uniform(lo, hi))  # noqa: E731
        answered = created + hours(0.2, 30)
        solved = (
            answered + hours(2, 400)
            if status in ("closed", "verified", "solved", "unsolved")
            else None
        )
        passed = holder in shape.third and rng.random() < 0.7
        eta = (
            (created + timedelta(days=rng.randint(7, 90))).date()
            if passed and rng.random() < 0.4
            else None
        )
        subject = f"{component} {rng.choice(WORDS)} {rng.choice(WORDS)} at {site}"
        job = hub_id * 7919 % 10**9
        description = f"{shape.text(rng.randint(40, 160))} host {shape.host(site)} job {job}"
        updated = solved or answered
        out["tickets"].append((
            hub_id, subject[:255], description, name, email, weighted(rng, TYPE),
            weighted(rng, CATEGORY), weighted(rng, PRIORITY), status, holder,
            rng.choice(shape.first), json.dumps([]), component, site, rng.choice(VOS), eta,
            shape.text(20) if solved else None, created, updated, 4,
        ))  # fmt: skip
        history = [
            ("created", {"subject": subject, "status": "new"}, created),
            (
                "updated",
                {"support_unit": {"from": "TPM", "to": shape.units[holder - 1][0]}},
                created + hours(0, 1),
            ),
            ("entry_added", {"entry": {"id": 0, "visibility": "public"}}, answered),
        ]
        if solved:
            history.append(("updated", {"status": {"from": "in progress", "to": status}}, solved))
        for version, (action, diff, moment) in enumerate(history, 1):
            out["ticket_changes"].append(
                (
                    IDS("ticket_changes"),
                    hub_id,
                    version,
                    action,
                    name,
                    "api",
                    json.dumps(diff),
                    moment,
                )
            )
        for visibility in ("public", "internal")[: rng.randint(1, 2)]:
            out["journal_entries"].append(
                (IDS("journal_entries"), hub_id, visibility, shape.text(rng.randint(15, 60)),
                 "Support Staff", "api", answered)
            )  # fmt: skip
        if rng.random() < 0.8:
            out["links"].append(
                (IDS("links"), hub_id, f"unit-{holder}", str(hub_id + 50_000), None, "assignee",
                 created)
            )  # fmt: skip
        if passed:
            second = rng.choice(shape.second)
            handed = answered + hours(1, 40)
            out["ticket_assignments"].append(
                (IDS("ticket_assignments"), hub_id, second, created, None, answered, None,
                 handed, holder)
            )  # fmt: skip
            out["ticket_assignments"].append(
                (IDS("ticket_assignments"), hub_id, holder, handed, second,
                 handed + hours(0.5, 20), solved, None, None)
            )  # fmt: skip
        else:
            out["ticket_assignments"].append(
                (IDS("ticket_assignments"), hub_id, holder, created, None, answered, solved,
                 None, None)
            )  # fmt: skip
        if eta is not None:
            out["eta_revisions"].append((IDS("eta_revisions"), hub_id, eta, "dCache", created))
            if rng.random() < 0.3:
                out["eta_revisions"].append(
                    (IDS("eta_revisions"), hub_id, eta + timedelta(days=14), "dCache",
                     created + timedelta(days=5))
                )  # fmt: skip
    return out


# ------------------------------------------------------------------ measuring


def requests(shape: Shape, tickets: int, rng: random.Random) -> dict[str, Iterator[str]]:
    """Endless request paths of each kind (the baseline first)."""
    big = shape.units[0][0]

    def pk() -> Iterator[str]:
        while True:
            yield f"/api/v1/tickets/{rng.randint(1, tickets)}"

    def by_unit() -> Iterator[str]:
        while True:
            unit = rng.choice(shape.units[:12])[0]
            yield f"/api/v1/tickets?support_unit={unit}&status=in%20progress&limit=50"

    def deep_page() -> Iterator[str]:
        from gateway.ticket.service import encode_cursor

        while True:
            yield f"/api/v1/tickets?cursor={encode_cursor(rng.randint(1, tickets))}&limit=50"

    def recent() -> Iterator[str]:
        while True:
            since = (END - timedelta(days=rng.randint(1, 3))).isoformat()
            yield f"/api/v1/tickets?updated_since={since.replace('+00:00', 'Z')}&limit=50"

    def search_common() -> Iterator[str]:
        while True:
            yield f"/api/v1/tickets?q={rng.choice(['glexec', 'checksum', 'staging'])}&limit=50"

    def search_host() -> Iterator[str]:
        while True:
            yield f"/api/v1/tickets?q={shape.host(rng.choice(SITES))}&limit=50"

    def search_nothing() -> Iterator[str]:
        while True:
            yield f"/api/v1/tickets?q=zq{rng.randint(0, 10**6)}xj&limit=50"

    del big
    return {
        "primary-key read": pk(),
        "list: unit + status": by_unit(),
        "list: deep page": deep_page(),
        "list: updated since": recent(),
        "search: common word": search_common(),
        "search: host name": search_host(),
        "search: no match": search_nothing(),
    }


def measure(base: str, key: str, shape: Shape, tickets: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(11)
    kinds = requests(shape, tickets, rng)
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for path in [next(kinds[k]) for k in kinds for _ in range(5)]:  # warm up
            client.get(path).raise_for_status()
        for round_no in range(rounds):
            for kind, paths in kinds.items():
                for _ in range(25):
                    path = next(paths)
                    begun = time.perf_counter()
                    answer = client.get(path)
                    timings[kind].append(time.perf_counter() - begun)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            print(f"  round {round_no + 1}/{rounds}", flush=True)
        largest = shape.units[0][0]
        quarter = []
        for _ in range(5):
            begun = time.perf_counter()
            answer = client.get(
                "/api/v1/metrics", params={"period": "2026-Q3", "support_unit": largest}
            )
            quarter.append(time.perf_counter() - begun)
            answer.raise_for_status()
        figures = answer.json()["rows"]
    return {"timings": timings, "quarter": quarter, "quarter_rows": figures, "unit": largest}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def report(result: dict[str, Any], rss: float) -> list[str]:
    timings = result["timings"]
    base = percentile(timings["primary-key read"], 99)
    lines = [f"{'kind':<22} {'p50 ms':>8} {'p99 ms':>8} {'p99 / pk p99':>13}  goal <= 5x"]
    for kind, values in timings.items():
        p99 = percentile(values, 99)
        mark = "" if kind == "primary-key read" else ("ok" if p99 / base <= 5 else "MISSED")
        lines.append(
            f"{kind:<22} {statistics.median(values) * 1000:8.1f} {p99 * 1000:8.1f} "
            f"{p99 / base:12.2f}x  {mark}"
        )
    worst = max(result["quarter"])
    lines.append(
        f"quarter's metrics for {result['unit']}: "
        f"median {statistics.median(result['quarter']):.2f} s,"
        f" worst {worst:.2f} s ({worst / base:.0f}x the pk p99); goal < 2 s: "
        f"{'ok' if worst < 2 else 'MISSED'}"
    )
    row = result["quarter_rows"][0] if result["quarter_rows"] else {}
    lines.append(f"  ({row.get('assigned', 0)} assignments, {row.get('solved', 0)} solved)")
    lines.append(
        f"gateway peak resident memory: {rss:.0f} MB; "
        f"goal < 250 MB: {'ok' if rss < 250 else 'MISSED'}"
    )
    return lines


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    shape = Shape(random.Random(7), args.tickets)
    with database("postgresql", prefix="gw_scale") as url, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "scale.yaml"
        config.write_text(config_text(shape))
        env = {"GATEWAY_DATABASE_URL": url, "GATEWAY_DATA_DIR": tmp}
        print(gateway_cli("migrate", "--config", str(config), env=env), flush=True)
        print(f"filling PostgreSQL with {args.tickets:,} tickets", flush=True)
        began = time.monotonic()
        counts = asyncio.run(fill(url, args.tickets, shape))
        print(f"  filled in {time.monotonic() - began:.0f} s: {counts}", flush=True)
        key = gateway_cli("create-key", "--name", "bench", "--config", str(config), env=env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [str(BIN / "gateway"), "serve", "--config", str(config), "--port", str(port)]
        with process(command, env, ready_url=f"{base}/readyz") as server:
            result = measure(base, key, shape, args.tickets, args.rounds)
            rss = peak_rss_mb(server.pid)
    lines = report(result, rss)
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scale-{date.today()}.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
