"""Structured logs: JSON lines, a request id on each line of a request, no secret ever logged."""

from __future__ import annotations

import io
import json
import logging

from gateway.logging import JsonFormatter
from tests.conftest import new_ticket


async def test_log_lines_are_json_with_request_id_and_no_key(client, admin) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        response = await client.post(
            "/api/v1/tickets", json=new_ticket(), headers={**admin, "X-Request-ID": "req-123"}
        )
        await client.get("/api/v1/tickets?x=1", headers=admin)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert response.headers["x-request-id"] == "req-123"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "gateway.access"]
    assert len(access) == 2
    assert access[0]["request_id"] == "req-123" and access[0]["status"] == 201
    assert access[1]["request_id"] not in ("req-123", None)
    secret = admin["Authorization"].removeprefix("Bearer ")
    assert secret not in stream.getvalue()
    assert secret.split("_", 2)[2] not in stream.getvalue()  # the secret part may hold "_"


def test_a_stalled_stderr_never_blocks_the_caller(monkeypatch) -> None:
    """Lines go through a queue to a writer thread; when it is full they are dropped, counted."""
    import threading
    import time

    from gateway import logging as gateway_logging

    release = threading.Event()

    class StalledStream(io.StringIO):
        def write(self, text: str) -> int:
            release.wait(10)  # a pipe nobody reads
            return super().write(text)

    monkeypatch.setattr("sys.stderr", StalledStream())
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    gateway_logging.configure_logging("INFO")
    dropped_before = gateway_logging.ContextQueueHandler.dropped
    try:
        started = time.perf_counter()
        for n in range(gateway_logging.QUEUE_LINES + 500):
            logging.getLogger("gateway.test").info("line", extra={"n": n})
        assert time.perf_counter() - started < 5
        assert gateway_logging.ContextQueueHandler.dropped - dropped_before >= 400
    finally:
        release.set()
        gateway_logging.stop_writer()
        root.handlers[:], level = saved
        root.setLevel(level)
