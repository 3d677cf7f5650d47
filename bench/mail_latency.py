"""Latency from a mail into the gateway's SMTP listener to the create in the unit's system.

    python bench/mail_latency.py [--backend sqlite|postgresql|both] [--rate 20] [--seconds 20]

New-problem mails (~3 KB, distinct senders, one SMTP connection each) go at a steady rate into
`gateway serve` (listener and embedded worker); the ticket is routed to the default unit, whose
system is a reference helpdesk in this process (REST adapter), and the submitter's
acknowledgement goes to a mail sink. Latency = when the helpdesk received the create - when the
SMTP send started; a unique token in each subject matches them. The baseline posts the same
create straight to the helpdesk at the same rate. Goal: p99 under 500 ms on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib
import yaml

from bench.common import BIN, arguments, backends, database, free_port, percentile, process, save
from bench.latency import arrivals, direct, stages, steady
from bench.mail_listener import RCPT, mail_channel, mail_sink, message, wait_smtp
from examples.helpdesk import Helpdesk, serving
from gateway.ticket.tables import TicketRow
from tests.support.configs import rest_connection

ENV = {"BENCH_TOKEN": "bench-token", "GATEWAY_LOG_LEVEL": "WARNING"}
UNIT_CONNECTION = "dmsu-helpdesk"


def probe_subject(n: int) -> str:
    """A realistic subject with the unique probe the sink is matched by."""
    return f"Jobs abort at site {n % 97}: probe-{time.time_ns()}-{n}"


def config(sink_url: str, listen_port: int, smtp_port: int) -> dict[str, Any]:
    return {
        "support_units": [{"name": "DMSU", "level": "second"}],
        "routing": {"default_support_unit": "DMSU"},
        "connections": [
            mail_channel(listen_port, smtp_port),
            rest_connection(UNIT_CONNECTION, "DMSU", sink_url, token_env="BENCH_TOKEN"),
        ],
    }


Send = Callable[[str], Coroutine[Any, Any, str | None]]


def run_gateway(
    backend: str, rate: float, seconds: float, tmp: Path
) -> tuple[list[float], list[float], dict[str, Any]]:
    """Latencies to the helpdesk, SMTP answer times (ms), stage breakdown."""
    desk = Helpdesk(name="sink", token="bench-token")
    with serving(desk.app()) as sink_url, database(backend) as url, mail_sink(tmp) as smtp_port:
        listen, port = free_port(), free_port()
        path = tmp / f"latency-{listen}.yaml"
        path.write_text(yaml.safe_dump(config(sink_url, listen, smtp_port)), encoding="utf-8")
        env = {**ENV, "GATEWAY_DATABASE_URL": url}
        args = [str(BIN / "gateway"), "serve", "--config", str(path), "--port", str(port)]
        with process(args, env, ready_url=f"http://127.0.0.1:{port}/readyz") as proc:
            wait_smtp(listen, proc)
            answered: list[float] = []

            async def send(subject: str) -> str | None:
                started = time.perf_counter()
                sender = f"admin-{time.time_ns()}@site.example.org"
                _, raw = message(sender, subject)
                try:
                    await aiosmtplib.send(
                        raw, sender=sender, recipients=[RCPT], hostname="127.0.0.1", port=listen
                    )
                except (aiosmtplib.SMTPException, OSError) as exc:
                    return f"{type(exc).__name__}: {exc}"
                answered.append((time.perf_counter() - started) * 1000)
                return None

            arrivals(desk, asyncio.run(steady(rate, 2, send, probe_subject)))  # warm-up
            answered.clear()
            sent = asyncio.run(steady(rate, seconds, send, probe_subject))
            arrived = arrivals(desk, sent)
            breakdown = asyncio.run(
                stages(
                    url,
                    sent,
                    arrived,
                    written=TicketRow.created_at,
                    first="stored",
                    connection=UNIT_CONNECTION,
                )
            )
            if len(arrived) < len(sent):
                log = proc.log_path.read_text(errors="replace")  # type: ignore[attr-defined]
                print("  server log (last 5 lines):", *log.splitlines()[-5:], sep="\n    ")
            return [(at - sent[s]) * 1000 for s, at in arrived.items()], answered, breakdown


def direct_ticket(subject: str) -> dict[str, Any]:
    """What the unit's helpdesk gets for one probe mail, posted straight to it."""
    sender = f"admin-{time.time_ns()}@site.example.org"
    _, raw = message(sender, subject)
    return {
        "title": subject,
        "body": raw.split(b"\r\n\r\n", 1)[1].decode().strip(),
        "requester": {"name": "Site Admin", "email": sender},
        "priority": "normal",
        "group": "DMSU",
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends(args.backend):
            base = direct(args.rate, args.seconds, direct_ticket, probe_subject)
            gate, answered, breakdown = run_gateway(backend, args.rate, args.seconds, Path(tmp))
            report[backend] = {
                "mails": len(gate),
                "sent": int(args.rate * args.seconds),
                "gateway_p50_ms": percentile(gate, 50),
                "gateway_p99_ms": percentile(gate, 99),
                "smtp_250_p50_ms": percentile(answered, 50),
                "smtp_250_p99_ms": percentile(answered, 99),
                "direct_p50_ms": percentile(base, 50),
                "direct_p99_ms": percentile(base, 99),
                "stages": breakdown,
            }
            report[backend]["p99_ratio"] = (
                report[backend]["gateway_p99_ms"] / report[backend]["direct_p99_ms"]
            )
    print(
        f"\n{args.rate:.0f} mails/s for {args.seconds:.0f} s; SMTP send -> create in the unit (ms)"
    )
    print("backend      arrived   gateway p50   p99 (goal < 500)   direct p50   p99   p99 ratio")
    for backend, f in report.items():
        print(
            f"{backend:<12} {f['mails']:4}/{f['sent']:<4} {f['gateway_p50_ms']:9.1f}"
            f" {f['gateway_p99_ms']:7.1f} {f['direct_p50_ms']:19.1f} {f['direct_p99_ms']:6.1f}"
            f" {f['p99_ratio']:8.1f}x"
        )
    print("SMTP 250 answer (p50 / p99 ms), and where the time goes (p50 / p99 ms):")
    for backend, f in report.items():
        print(
            f"{backend:<12} 250 {f['smtp_250_p50_ms']:.1f} / {f['smtp_250_p99_ms']:.1f}   "
            + "   ".join(
                f"{stage} {v['p50_ms']:.1f} / {v['p99_ms']:.1f}" for stage, v in f["stages"].items()
            )
        )
    print(f"saved {save('mail_latency', {'rate': args.rate, **report})}")


if __name__ == "__main__":
    main()
