"""Several `gateway serve` processes on one PostgreSQL database, a client that fails over between
them, and the measurements a failover is judged by. Used by the failover test and benchmark.

The client behaves as a client behind a load balancer would: each create carries its own
`Idempotency-Key`; on a connection error, a 5xx or a 409 it retries, on the next instance, with
the same key, until it gets its 201.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml

from examples.helpdesk import Helpdesk, serving
from tests.support.configs import rest_connection

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cluster-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Instance:
    """One `gateway serve` process (API and embedded worker)."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Outcome:
    """What happened to one create, as the client saw it."""

    key: str
    sent_at: float
    done_at: float | None = None
    ticket_id: int | None = None
    tries: list[str] = field(default_factory=list)  # "a:201", "b:409", "a:ConnectError"


class Cluster:
    """Gateways sharing one database and one slow remote helpdesk for the unit NGI_DE."""

    def __init__(self, database_url: str, workdir: Path, *, remote_delay: float = 1.0) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.desk = Helpdesk(name="ngi-de", token=TOKEN)
        self.desk.delay_seconds = remote_delay  # applied at once, answered late: pushes in flight
        self.instances: dict[str, Instance] = {}
        self._desk_server: contextlib.ExitStack | None = None

    def __enter__(self) -> Cluster:
        self._desk_server = contextlib.ExitStack()
        desk_url = self._desk_server.enter_context(serving(self.desk.app()))
        self.desk.base_url = desk_url
        config = {
            "support_units": [
                {"name": "TPM", "level": "first"},
                {"name": "NGI_DE", "level": "first"},
            ],
            "routing": {"default_support_unit": "TPM"},
            "connections": [
                rest_connection("ngi-de", "NGI_DE", desk_url, token_env="CLUSTER_TOKEN")
            ],
        }
        self.config = self.workdir / "gateway.yaml"
        self.config.write_text(yaml.safe_dump(config), encoding="utf-8")
        self._cli("migrate")
        self.admin_key = self._cli("create-key", "--name", "cluster-admin")
        return self

    def __exit__(self, *exc: object) -> None:
        for instance in self.instances.values():
            self.kill(instance.name, signal.SIGKILL)
        if self._desk_server is not None:
            self._desk_server.close()

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GATEWAY_DATABASE_URL": self.database_url,
            "CLUSTER_TOKEN": TOKEN,
            "GATEWAY_LOG_LEVEL": "INFO",
            "GATEWAY_WORKER_POLL_INTERVAL": "1",
        }

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "gateway"), *args, "--config", str(self.config)],
            env=self._env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    def start(self, name: str) -> Instance:
        instance = self.instances.get(name) or Instance(
            name, free_port(), self.workdir / f"{name}.log"
        )
        with instance.log.open("ab") as log:
            instance.process = subprocess.Popen(
                [
                    str(BIN / "gateway"),
                    "serve",
                    "--config",
                    str(self.config),
                    "--port",
                    str(instance.port),
                    "--no-migrate",
                ],
                env=self._env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.instances[name] = instance
        deadline = time.monotonic() + 30
        while not _ready(instance.url):
            assert instance.process.poll() is None, instance.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{name} not ready"
            time.sleep(0.05)
        return instance

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.instances[name].process
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=60)

    async def instance_id(self, name: str) -> str:
        """The registry id of an instance, by its pid."""
        process = self.instances[name].process
        assert process is not None
        rows = await self.query("SELECT id FROM instances WHERE pid = $1", process.pid)
        return str(rows[0]["id"])

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url.replace("+asyncpg", ""))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def held_by(self, instance_id: str) -> tuple[int, int]:
        """(claimed deliveries, in-flight idempotency keys) an instance holds."""
        deliveries = await self.query(
            "SELECT count(*) AS n FROM outbox WHERE state = 'in_flight' AND lease_owner = $1",
            instance_id,
        )
        keys = await self.query(
            "SELECT count(*) AS n FROM idempotency_keys WHERE state = 'in_flight' AND owner = $1",
            instance_id,
        )
        return int(deliveries[0]["n"]), int(keys[0]["n"])

    async def undelivered(self) -> int:
        rows = await self.query("SELECT count(*) AS n FROM outbox WHERE state <> 'done'")
        return int(rows[0]["n"])

    async def ticket_count(self) -> int:
        return int((await self.query("SELECT count(*) AS n FROM tickets"))[0]["n"])


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class FailoverClient:
    """Creates tickets for NGI_DE at a steady rate, spreading them over the instances."""

    def __init__(self, cluster: Cluster, *, rate: float, give_up_after: float = 60.0) -> None:
        self.cluster = cluster
        self.rate = rate
        self.give_up_after = give_up_after
        self.outcomes: list[Outcome] = []
        self.answers: list[int] = []  # every HTTP status any try got
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.cluster.admin_key}"}
        async with httpx.AsyncClient(headers=headers, timeout=10) as client:
            tasks = []
            n = 0
            started = time.monotonic()
            while not self._stop.is_set():
                outcome = Outcome(key=f"k-{uuid.uuid4().hex}", sent_at=time.monotonic())
                self.outcomes.append(outcome)
                tasks.append(asyncio.create_task(self._create(client, outcome, first=n)))
                n += 1
                pause = started + n / self.rate - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), max(pause, 0))
            await asyncio.gather(*tasks)

    async def _create(self, client: httpx.AsyncClient, outcome: Outcome, *, first: int) -> None:
        names = sorted(self.cluster.instances)
        body = {
            "subject": f"failover {outcome.key}",
            "description": "created while instances come and go",
            "submitter": {"name": "Ann Example", "email": "ann@example.org"},
            "support_unit": "NGI_DE",
        }
        turn = first
        while time.monotonic() - outcome.sent_at < self.give_up_after:
            name = names[turn % len(names)]
            turn += 1
            url = self.cluster.instances[name].url
            try:
                response = await client.post(
                    f"{url}/api/v1/tickets", json=body, headers={"Idempotency-Key": outcome.key}
                )
            except httpx.TransportError as exc:
                outcome.tries.append(f"{name}:{type(exc).__name__}")
                await asyncio.sleep(0.05)
                continue
            self.answers.append(response.status_code)
            outcome.tries.append(f"{name}:{response.status_code}")
            if response.status_code == 201:
                outcome.done_at = time.monotonic()
                outcome.ticket_id = int(response.json()["id"])
                return
            await asyncio.sleep(0.05)

    def lost(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.done_at is None]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class FailoverReport:
    """One SIGKILL under load, as measured from outside."""

    held_at_kill: tuple[int, int]  # (claimed deliveries, in-flight creates) of the killed one
    taken_over_after: float  # s from the kill until a survivor released all it held
    claims_moved_after: float  # s until the survivor had claimed all of it again
    its_deliveries_done_after: float  # s until every delivery it had claimed is done
    its_creates_answered_after: float  # s until every create in flight at it got its 201
    creates: int
    lost: int
    hub_tickets: int
    remote_duplicates: int
    delivery_p99_its: float  # s, from the change to the remote, for what it had claimed
    delivery_p99_rest: float  # s, the same for every other delivery of the run
    answers: dict[int, int]


async def failover(cluster: Cluster, *, rate: float, before: float, after: float) -> FailoverReport:
    """Two instances under load; SIGKILL one while it holds deliveries and creates."""
    cluster.start("a")
    cluster.start("b")
    client = FailoverClient(cluster, rate=rate)
    load = asyncio.create_task(client.run())
    await asyncio.sleep(before)
    victim = await cluster.instance_id("a")
    claimed, keys, killed_at = await _kill_while_holding(cluster, "a", victim)
    taken = await _seconds_until(lambda: _judged_dead(cluster, victim), killed_at)
    moved = await _seconds_until(lambda: _holds_nothing(cluster, victim), killed_at)
    its_done = await _seconds_until(lambda: _all_done(cluster, claimed), killed_at)
    await asyncio.sleep(after)
    client.stop()
    await load
    await _seconds_until(lambda: _none_undelivered(cluster), time.monotonic(), limit=60)
    answered = [o.done_at - killed_at for o in client.outcomes if o.key in keys and o.done_at]
    latencies = await _delivery_seconds(cluster)
    return FailoverReport(
        held_at_kill=(len(claimed), len(keys)),
        taken_over_after=taken,
        claims_moved_after=moved,
        its_deliveries_done_after=its_done,
        its_creates_answered_after=max(answered, default=float("nan")),
        creates=len(client.outcomes),
        lost=len(client.lost()),
        hub_tickets=await cluster.ticket_count(),
        remote_duplicates=_remote_duplicates(cluster, client),
        delivery_p99_its=percentile([s for i, s in latencies.items() if i in claimed], 99),
        delivery_p99_rest=percentile([s for i, s in latencies.items() if i not in claimed], 99),
        answers=_counts(client.answers),
    )


@dataclass
class RestartReport:
    creates: int
    lost: int
    hub_tickets: int
    remote_duplicates: int
    server_errors: int  # 5xx answers any client try got
    delivery_p99: float
    delivery_max: float
    claim_wait_max: float  # s from a change to the start of its first push: no lease waited out
    answers: dict[int, int]


async def rolling_restart(cluster: Cluster, *, rate: float, settle: float) -> RestartReport:
    """Two instances under load; each in turn stopped (SIGTERM) and started again."""
    cluster.start("a")
    cluster.start("b")
    client = FailoverClient(cluster, rate=rate)
    load = asyncio.create_task(client.run())
    for name in ("a", "b"):
        await asyncio.sleep(settle)
        await asyncio.to_thread(cluster.kill, name, signal.SIGTERM)
        await asyncio.to_thread(cluster.start, name)
    await asyncio.sleep(settle)
    client.stop()
    await load
    await _seconds_until(lambda: _none_undelivered(cluster), time.monotonic(), limit=60)
    latencies = list((await _delivery_seconds(cluster)).values())
    return RestartReport(
        creates=len(client.outcomes),
        lost=len(client.lost()),
        hub_tickets=await cluster.ticket_count(),
        remote_duplicates=_remote_duplicates(cluster, client),
        server_errors=sum(1 for status in client.answers if status >= 500),
        delivery_p99=percentile(latencies, 99),
        delivery_max=max(latencies, default=float("nan")),
        claim_wait_max=await _claim_wait_max(cluster),
        answers=_counts(client.answers),
    )


async def _kill_while_holding(
    cluster: Cluster, name: str, victim: str
) -> tuple[set[int], set[str], float]:
    """Hold the tickets table so creates stall mid-transaction, then SIGKILL `name`."""
    lock = await asyncpg.connect(cluster.database_url.replace("+asyncpg", ""))
    try:
        async with lock.transaction():
            await lock.execute("LOCK TABLE tickets IN SHARE MODE")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                deliveries, keys = await cluster.held_by(victim)
                if deliveries and keys:
                    break
                await asyncio.sleep(0.02)
            claimed = {
                r["id"]
                for r in await cluster.query(
                    "SELECT id FROM outbox WHERE state = 'in_flight' AND lease_owner = $1", victim
                )
            }
            in_flight = {
                r["key"]
                for r in await cluster.query(
                    "SELECT key FROM idempotency_keys WHERE state = 'in_flight' AND owner = $1",
                    victim,
                )
            }
            cluster.kill(name, signal.SIGKILL)
            killed_at = time.monotonic()
    finally:
        await lock.close()
    return claimed, in_flight, killed_at


async def _seconds_until(check: Any, since: float, limit: float = 30.0) -> float:
    while not await check():
        if time.monotonic() - since > limit:
            return float("inf")
        await asyncio.sleep(0.02)
    return time.monotonic() - since


async def _judged_dead(cluster: Cluster, instance_id: str) -> bool:
    rows = await cluster.query("SELECT state FROM instances WHERE id = $1", instance_id)
    return bool(rows) and rows[0]["state"] == "dead"


async def _holds_nothing(cluster: Cluster, instance_id: str) -> bool:
    return await cluster.held_by(instance_id) == (0, 0)


async def _all_done(cluster: Cluster, ids: set[int]) -> bool:
    rows = await cluster.query(
        "SELECT count(*) AS n FROM outbox WHERE id = ANY($1::int[]) AND state <> 'done'", list(ids)
    )
    return int(rows[0]["n"]) == 0


async def _none_undelivered(cluster: Cluster) -> bool:
    return await cluster.undelivered() == 0


async def _delivery_seconds(cluster: Cluster) -> dict[int, float]:
    rows = await cluster.query(
        "SELECT id, extract(epoch FROM done_at - created_at) AS s FROM outbox "
        "WHERE done_at IS NOT NULL"
    )
    return {int(r["id"]): float(r["s"]) for r in rows}


async def _claim_wait_max(cluster: Cluster) -> float:
    rows = await cluster.query(
        "SELECT max(extract(epoch FROM a.started_at - o.created_at)) AS s FROM outbox o "
        "JOIN delivery_attempts a ON a.outbox_id = o.id AND a.attempt = 1"
    )
    return float(rows[0]["s"] or 0.0)


def _remote_duplicates(cluster: Cluster, client: FailoverClient) -> int:
    ids = {o.ticket_id for o in client.outcomes if o.ticket_id is not None}
    return sum(max(0, len(cluster.desk.find(i)) - 1) for i in ids)


def _counts(values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return dict(sorted(out.items()))
