"""The baseline for the create benchmark: a bare FastAPI endpoint inserting one row.

Same engine factory as the gateway (so SQLite gets the same WAL, BEGIN IMMEDIATE and busy
timeout, PostgreSQL the same pool), same request body model, same uvicorn settings.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.database.base import UTCDateTime, utcnow
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.ticket.models import TicketCreate


class Base(DeclarativeBase):
    pass


class BenchTicket(Base):
    __tablename__ = "bench_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    submitter_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def build(database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        app.state.sessions = create_sessionmaker(engine)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/tickets", status_code=201)
    async def create(data: TicketCreate) -> JSONResponse:
        async with app.state.sessions() as session:
            row = BenchTicket(
                subject=data.subject,
                description=data.description,
                submitter_email=data.submitter.email,
            )
            session.add(row)
            await session.commit()
            return JSONResponse({"id": row.id}, status_code=201)

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    uvicorn.run(
        build(args.database_url),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
    )
