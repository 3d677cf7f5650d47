"""The outside world's mail server, for the worked example and the tests: an SMTP server that
keeps every message the gateway sends as a file and prints one line for each.

    .venv/bin/python examples/mail_sink.py [--port 2526] [--dir data/mail-sink]

`python3 dev.py serve` starts it next to the gateway (examples/gateway.yaml sends mail here).
Each message is written to `<dir>/<n>-<recipient>.eml`; read it with any mail client or `cat`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import itertools
import re
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class Sink:
    """Accepts everything; files each message under `directory`, and keeps it in `messages`."""

    def __init__(self, directory: Path | None = None, *, quiet: bool = False) -> None:
        self.directory = directory
        self.quiet = quiet
        self.messages: list[tuple[list[str], bytes]] = []
        self.arrived = asyncio.Event()
        self._numbers = itertools.count(1)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._numbers = itertools.count(len(list(directory.glob("*.eml"))) + 1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        recipients = [str(r) for r in envelope.rcpt_tos]
        self.messages.append((recipients, raw))
        self.arrived.set()
        number = next(self._numbers)
        if self.directory is not None:
            name = re.sub(r"[^A-Za-z0-9@._-]", "_", recipients[0] if recipients else "nobody")
            (self.directory / f"{number:04d}-{name}.eml").write_bytes(raw)
        if not self.quiet:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            print(f"mail {number} to {', '.join(recipients)}: {message['Subject']}", flush=True)
        return "250 2.0.0 kept"


async def start(sink: Sink, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Serve the sink in the running loop; port 0 picks a free one (see `server.sockets`)."""

    def protocol() -> Any:
        return SMTP(sink, hostname="mail-sink.example", decode_data=False, enable_SMTPUTF8=True)

    return await asyncio.get_running_loop().create_server(protocol, host, port)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--dir", default="data/mail-sink", help="where to keep mail; - keeps none")
    parser.add_argument("--quiet", action="store_true", help="no line per message")
    args = parser.parse_args()
    directory = None if args.dir == "-" else Path(args.dir)
    server = await start(Sink(directory, quiet=args.quiet), args.host, args.port)
    print(f"mail sink on {args.host}:{args.port}, keeping messages in {args.dir}/", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
