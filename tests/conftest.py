"""Shared fixtures: every store and API test runs on SQLite and on PostgreSQL.

PostgreSQL is expected on 127.0.0.1:5432 (user postgres, trust auth). Its absence fails the run;
set GATEWAY_TEST_POSTGRES=skip to run SQLite only on a machine without it (never in CI).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from gateway.api.app import create_app
from gateway.auth import service as auth
from gateway.auth.models import ApiKeyCreate, Role
from gateway.config.loader import load_config
from gateway.config.models import GatewayConfig
from gateway.connection.service import Connections
from gateway.database import migrate
from gateway.database.engine import create_engine
from gateway.database.registry import metadata
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "gateway.yaml"
PG_HOST = os.environ.get("GATEWAY_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("GATEWAY_TEST_PG_USER", "postgres")
BACKENDS = ["sqlite", "postgresql"]


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, user=PG_USER, database="postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped at the end."""
    if os.environ.get("GATEWAY_TEST_POSTGRES") == "skip" and not os.environ.get("CI"):
        pytest.skip("PostgreSQL tests skipped by GATEWAY_TEST_POSTGRES=skip")
    name = f"gateway_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_HOST}:5432 as {PG_USER} ({exc}); "
            "start it (.ci/ensure-postgres) or set GATEWAY_TEST_POSTGRES=skip outside CI",
            pytrace=False,
        )
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:5432/{name}"
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "gateway.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "gateway.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def config() -> GatewayConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, max_body_bytes=64 * 1024)


@pytest.fixture
async def app(settings: Settings, config: GatewayConfig) -> AsyncIterator[FastAPI]:
    """The hub without connections (the sync tests bring their own)."""
    application = create_app(settings, config, connections=Connections([]))
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        yield c


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


class Keys:
    """Creates API keys straight in the store and returns ready-made auth headers."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def headers(
        self, role: Role = Role.ADMIN, *, unit: str | None = None, email: str | None = None
    ) -> dict[str, str]:
        data = ApiKeyCreate(
            name=f"{role.value}:{unit or email or 'root'}",
            role=role,
            support_unit=unit,
            submitter_email=email,
        )
        async with self.app.state.sessionmaker() as session:
            created = await auth.create_api_key(session, data=data)
            await session.commit()
        return {"Authorization": f"Bearer {created.key}"}


@pytest.fixture
def keys(app: FastAPI) -> Keys:
    return Keys(app)


@pytest.fixture
async def admin(keys: Keys) -> dict[str, str]:
    return await keys.headers()


def new_ticket(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Cannot write to the SRM at DESY",
        "description": "srmcp fails with SRM_AUTHORIZATION_FAILURE since this morning",
        "submitter": {"name": "Ann Example", "email": "ann@example.org"},
    }
    body.update(overrides)
    return body
