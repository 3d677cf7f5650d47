"""Mail throughput through the gateway's SMTP listener into tickets vs. a bare aiosmtpd insert.

    python bench/mail_listener.py [--backend sqlite|postgresql|both] [--seconds 8] [--rounds 2]
                                  [--concurrency 16] [--workers 1] [--embedded]

The gateway as installed for each backend: on SQLite one `gateway serve` (listener, embedded
worker and mail reader); on PostgreSQL the production layout, `gateway serve --no-worker` (the
listener alone) and `--workers` `gateway worker` processes that read the mail and send the
acknowledgements (`--embedded`: `serve` with its embedded worker and readers, beside them).
Each acknowledgement is mailed to a mail sink. The gateway's processes and the baseline
(`bench/mail_baseline.py`: aiosmtpd, stdlib parse, one row in the same kind of database through
the same engine factory) run as subprocesses; rounds alternate
baseline/gateway, each on a fresh database. N SMTP clients (aiosmtplib, one connection each) send
~3 KB new-problem messages from distinct senders back to back.

Two gateway rates, each against the baseline's: `accepted` is what the sending MTAs see (250s per
second: the message is stored); `into tickets` counts the same messages until the last of them
is a ticket (the readers catch up after the load stops). Every gateway round checks that each
message answered 250 became exactly one ticket. Goal: gateway >= 0.5x baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import (
    BIN,
    ROOT,
    alternate,
    arguments,
    backends,
    database,
    free_port,
    median,
    process,
    save,
)
from gateway.mail.tables import MailMessageRow
from gateway.sync.tables import OutboxRow
from gateway.ticket.tables import TicketRow

ENV = {"GATEWAY_LOG_LEVEL": "WARNING"}
RCPT = "helpdesk@gateway.example.org"
PARAGRAPH = (
    "Since this morning all jobs that write to the storage element fail with "
    "SRM_AUTHORIZATION_FAILURE after about two minutes; reads still work. The proxy is valid "
    "for another 11 hours and voms-proxy-info shows the expected FQANs. We restarted the "
    "transfer agents and cleared the local cache without any change. "
)
_serial = itertools.count(1)


def message(sender: str, subject: str, *, size: int = 3000) -> tuple[str, bytes]:
    """A new-problem mail of about `size` bytes; its Message-ID is unique."""
    token = f"{time.time_ns()}.{next(_serial)}"
    body_lines = ["Hello,", ""]
    while sum(len(line) + 1 for line in body_lines) < size - 700:
        body_lines.append(PARAGRAPH)
    body_lines += ["", "Regards,", sender.split("@")[0], "Example grid site, operations"]
    headers = [
        f"From: Site Admin {token} <{sender}>",
        f"To: Grid helpdesk <{RCPT}>",
        f"Subject: {subject}",
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}",
        f"Message-ID: <{token}@site.example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "User-Agent: bench/1.0",
    ]
    return token, ("\r\n".join([*headers, "", *body_lines]) + "\r\n").encode()


def config(listen_port: int, smtp_port: int) -> dict[str, Any]:
    """The mail channel only; new tickets go to TPM, which has no connection of its own."""
    return {
        "support_units": [{"name": "TPM", "level": "first"}],
        "routing": {"default_support_unit": "TPM"},
        "connections": [mail_channel(listen_port, smtp_port)],
    }


def mail_channel(listen_port: int, smtp_port: int) -> dict[str, Any]:
    return {
        "name": "mail",
        "adapter": "email",
        "settings": {
            "audience": "submitters",
            "sender": RCPT,
            "sender_name": "Grid helpdesk",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "listen_host": "127.0.0.1",
            "listen_port": listen_port,
            "daily_cap_per_sender": 1_000_000,
        },
    }


def wait_smtp(port: int, proc: subprocess.Popen[bytes], limit: float = 30) -> None:
    """Until something on `port` greets with 220 (or the process dies)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = getattr(proc, "log_path", None)
            error = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"SMTP on {port}: process exited: {error}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.settimeout(2)
            if s.recv(512).startswith(b"220"):
                return
        time.sleep(0.1)
    raise RuntimeError(f"SMTP on {port} not ready after {limit}s")


@contextlib.contextmanager
def mail_sink(tmp: Path) -> Any:
    """examples/mail_sink.py as a subprocess (the outside world's MTA); yields its port."""
    port = free_port()
    args = [str(BIN / "python"), str(ROOT / "examples" / "mail_sink.py")]
    args += ["--port", str(port), "--dir", str(tmp / f"sink-{port}")]
    with process(args, {}) as proc:
        wait_smtp(port, proc)
        yield port


@dataclass
class SmtpLoad:
    ok: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)  # "250 applied", "451", ...
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for key, n in self.outcomes.items() if not key.startswith("250"))


async def smtp_closed_loop(port: int, *, seconds: float, concurrency: int) -> SmtpLoad:
    """`concurrency` SMTP clients, one connection each, sending back to back for `seconds`."""
    load = SmtpLoad()
    stop_at = time.perf_counter() + seconds
    run = time.time_ns()

    async def one_client(client: int) -> None:
        smtp: aiosmtplib.SMTP | None = None
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            sender = f"admin-{run}-{client}-{n % 50}@site{client}.example.org"
            _, raw = message(sender, f"Writes to the SE fail at site {client} ({n})")
            try:
                if smtp is None or not smtp.is_connected:
                    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
                    await smtp.connect()
                _, reply = await smtp.sendmail(sender, [RCPT], raw)
            except aiosmtplib.SMTPResponseException as exc:
                load.outcomes[str(exc.code)] += 1
                load.first_error = load.first_error or f"{exc.code} {exc.message}"
                with contextlib.suppress(aiosmtplib.SMTPException):
                    await smtp.rset()  # type: ignore[union-attr]
                continue
            except (aiosmtplib.SMTPException, OSError) as exc:
                load.outcomes[type(exc).__name__] += 1
                load.first_error = load.first_error or f"{type(exc).__name__}: {exc}"
                smtp = None
                continue
            load.ok += 1
            words = reply.split()  # "2.0.0 applied as mail 17"
            load.outcomes["250 " + (words[1] if len(words) > 1 else "?")] += 1
        if smtp is not None and smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException):
                await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(concurrency)))
    load.seconds = time.perf_counter() - started
    return load


def measure(port: int, seconds: float, concurrency: int) -> tuple[SmtpLoad, SmtpLoad]:
    warm = asyncio.run(smtp_closed_loop(port, seconds=1.5, concurrency=concurrency))
    load = asyncio.run(smtp_closed_loop(port, seconds=seconds, concurrency=concurrency))
    if load.errors or warm.errors:
        bad = {k: n for k, n in (warm.outcomes + load.outcomes).items() if not k.startswith("250")}
        print(f"  ! answers other than 250: {bad}, first: {load.first_error}", flush=True)
    return warm, load


async def stored(url: str) -> dict[str, Any]:
    """What the gateway's database holds: tickets, mail records by outcome, outbox backlog."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            tickets = await conn.scalar(select(func.count(TicketRow.id)))
            counts = await conn.execute(
                select(MailMessageRow.outcome, func.count(MailMessageRow.id)).group_by(
                    MailMessageRow.outcome
                )
            )
            outcomes = {str(outcome): int(n) for outcome, n in counts.all()}
            pending = await conn.scalar(
                select(func.count(OutboxRow.id)).where(OutboxRow.done_at.is_(None))
            )
    finally:
        await engine.dispose()
    return {"tickets": tickets or 0, "mail": outcomes, "outbox_not_done": pending or 0}


@dataclass
class Checks:
    answered_250: int = 0
    tickets: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class GatewayRound:
    accepted_per_s: float
    tickets_per_s: float


async def until_tickets(url: str, expected: int, limit: float = 300) -> float:
    """Seconds (monotonic clock) at which `expected` tickets exist, or raise after `limit`."""
    engine = create_async_engine(url)
    deadline = time.monotonic() + limit
    try:
        while True:
            async with engine.connect() as conn:
                found = await conn.scalar(select(func.count(TicketRow.id))) or 0
            if found >= expected:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{found} of {expected} tickets after {limit} s")
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


def run_gateway(
    url: str,
    seconds: float,
    concurrency: int,
    tmp: Path,
    checks: Checks,
    workers: int,
    embedded: bool = True,
) -> GatewayRound:
    with mail_sink(tmp) as sink_port, contextlib.ExitStack() as stack:
        listen = free_port()
        path = tmp / f"mail-{listen}.yaml"
        path.write_text(yaml.safe_dump(config(listen, sink_port)), encoding="utf-8")
        port = free_port()
        env = {**ENV, "GATEWAY_DATABASE_URL": url}
        args = [str(BIN / "gateway"), "serve", "--config", str(path), "--port", str(port)]
        if not embedded:
            args.append("--no-worker")
        proc = stack.enter_context(process(args, env, ready_url=f"http://127.0.0.1:{port}/readyz"))
        for _ in range(workers):
            worker = [str(BIN / "gateway"), "worker", "--config", str(path)]
            stack.enter_context(process(worker, env))
        wait_smtp(listen, proc)
        warm = asyncio.run(smtp_closed_loop(listen, seconds=1.5, concurrency=concurrency))
        asyncio.run(until_tickets(url, warm.ok))
        started = time.monotonic()
        load = asyncio.run(smtp_closed_loop(listen, seconds=seconds, concurrency=concurrency))
        done = asyncio.run(until_tickets(url, warm.ok + load.ok))
        if load.errors or warm.errors:
            bad = {k: n for k, n in (warm.outcomes + load.outcomes).items() if k[:3] != "250"}
            print(f"  ! answers other than 250: {bad}, first: {load.first_error}", flush=True)
        answered = warm.outcomes + load.outcomes
        queued = answered["250 queued"]
        other_250 = {k: n for k, n in answered.items() if k.startswith("250 ") and n}
        other_250.pop("250 queued", None)
        found = asyncio.run(stored(url))
        checks.answered_250 += warm.ok + load.ok
        checks.tickets += found["tickets"]
        if other_250:
            checks.problems.append(f"250 answers that did not queue a message: {other_250}")
        if found["tickets"] != queued or found["mail"] != {"applied": queued}:
            checks.problems.append(
                f"{queued} messages answered '250 queued', {found['tickets']} tickets"
                f" (mail records by outcome: {found['mail']})"
            )
        tickets_per_s = load.ok / (done - started)
        print(
            f"  gateway: {warm.ok + load.ok} answered 250, {found['tickets']} tickets, "
            f"mail records {found['mail']}; accepted {load.rate:.0f}/s, into tickets "
            f"{tickets_per_s:.0f}/s (last ticket {done - started - load.seconds:.1f} s after "
            f"the load); acknowledgements not yet sent {found['outbox_not_done']}",
            flush=True,
        )
        if load.errors or warm.errors:
            log = proc.log_path.read_text(errors="replace")  # type: ignore[attr-defined]
            lines = [line for line in log.splitlines() if "mail" in line.lower()]
            print("  server log (mail lines, last 5):", *lines[-5:], sep="\n    ")
        return GatewayRound(load.rate, tickets_per_s)


def run_baseline(url: str, seconds: float, concurrency: int) -> float:
    port = free_port()
    args = [sys.executable, str(ROOT / "bench" / "mail_baseline.py"), "--port", str(port)]
    args += ["--database-url", url]
    with process(args, {}) as proc:
        wait_smtp(port, proc)
        _, load = measure(port, seconds, concurrency)
        return load.rate


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="`gateway worker` processes beside `serve` on PostgreSQL (SQLite: always 0)",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="PostgreSQL: `serve` reads and sends too (its embedded worker), beside --workers",
    )
    args = parser.parse_args()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends(args.backend):
            checks = Checks()
            workers = args.workers if backend == "postgresql" else 0
            embedded = backend == "sqlite" or args.embedded or not workers
            rounds: list[GatewayRound] = []

            def baseline(backend: str = backend) -> float:
                with database(backend) as url:
                    return run_baseline(url, args.seconds, args.concurrency)

            def gateway(
                backend: str = backend,
                checks: Checks = checks,
                workers: int = workers,
                embedded: bool = embedded,
                rounds: list[GatewayRound] = rounds,
            ) -> float:
                with database(backend) as url:
                    result = run_gateway(
                        url, args.seconds, args.concurrency, Path(tmp), checks, workers, embedded
                    )
                rounds.append(result)
                return result.accepted_per_s

            base, accepted = alternate(backend, args.rounds, baseline, gateway)
            into_tickets = median([r.tickets_per_s for r in rounds])
            report[backend] = {
                "baseline_per_s": base,
                "gateway_accepted_per_s": accepted,
                "gateway_into_tickets_per_s": into_tickets,
                "accepted_ratio": accepted / base,
                "into_tickets_ratio": into_tickets / base,
                "gateway_workers": workers,
                "layout": "serve" if embedded else "serve --no-worker",
                "gateway_answered_250": checks.answered_250,
                "gateway_tickets": checks.tickets,
                "problems": checks.problems,
            }
    print(f"\n{args.concurrency} SMTP clients, ~3 KB messages; messages/s (goal: ratios >= 0.50)")
    print(
        "backend     layout              workers  baseline/s  accepted/s  ratio"
        "   into tickets/s  ratio   250s -> tickets"
    )
    for backend, f in report.items():
        print(
            f"{backend:<11} {f['layout']:<19} {f['gateway_workers']:7d} "
            f"{f['baseline_per_s']:11.0f} "
            f"{f['gateway_accepted_per_s']:11.0f}  {f['accepted_ratio']:.2f}x "
            f"{f['gateway_into_tickets_per_s']:15.0f}  {f['into_tickets_ratio']:.2f}x"
            f"   {f['gateway_answered_250']} -> {f['gateway_tickets']}"
        )
    for backend, f in report.items():
        for problem in f["problems"]:
            print(f"LOST MAIL? {backend}: {problem}")
    saved = save(
        "mail_listener", {"concurrency": args.concurrency, "seconds": args.seconds, **report}
    )
    print(f"saved {saved}")


if __name__ == "__main__":
    main()
