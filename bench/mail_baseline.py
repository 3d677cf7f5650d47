"""The baseline for the mail benchmark: a bare aiosmtpd server inserting one row per message.

    python bench/mail_baseline.py --port N --database-url URL

Same SMTP settings as the gateway's listener (aiosmtpd, raw bytes, SMTPUTF8, size limit, fixed
hostname), same engine factory (so SQLite gets the same WAL, BEGIN IMMEDIATE and busy timeout,
PostgreSQL the same pool). Each message is parsed with the standard library and stored as one
row (sender, subject, body) in its own table of the same database; 250 once committed.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import String, Text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.database.base import UTCDateTime, utcnow
from gateway.database.engine import create_engine, create_sessionmaker


class Base(DeclarativeBase):
    pass


class BenchMail(Base):
    __tablename__ = "bench_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Handler:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        try:
            async with self.sessions() as db:
                row = BenchMail(
                    sender=str(message["From"] or "")[:254],
                    subject=str(message["Subject"] or "")[:255],
                    body=body,
                )
                db.add(row)
                await db.commit()
                return f"250 2.0.0 stored as mail {row.id}"
        except Exception as exc:  # noqa: BLE001 (the same contract as the gateway: not stored -> 451)
            return f"451 4.3.0 cannot store mail now: {type(exc).__name__}"


async def main(port: int, database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    handler = Handler(create_sessionmaker(engine))

    def protocol() -> Any:
        return SMTP(
            handler,
            data_size_limit=10_000_000,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="baseline.example.org",
            ident="mail-baseline",
            timeout=60,
        )

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", port)
    try:
        async with server:
            await server.serve_forever()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.database_url))
