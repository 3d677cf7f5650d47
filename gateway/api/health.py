"""Liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from gateway.database import migrate

router = APIRouter(tags=["health"])
log = logging.getLogger("gateway.health")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database unreachable or not migrated"}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    try:
        current = await migrate.current_revisions(request.app.state.engine)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("readiness check failed", extra={"error_type": type(exc).__name__})
        return _unready("database unreachable")
    if current != migrate.head_revisions():
        return _unready(
            f"database schema at {sorted(current)}, code expects {sorted(migrate.head_revisions())}"
        )
    return JSONResponse({"status": "ready", "database": "ok", "migrations": "current"})


def _unready(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "not_ready", "message": message}}, status_code=503)
