"""One HTTP call to a remote system: in-call retry of connection failures, then classification.

Only failures where the request cannot have reached the remote (connect errors, pool timeouts)
are retried here with tenacity; everything else is left to the delivery worker's schedule, which
survives restarts.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from gateway.adapter.errors import (
    AdapterError,
    Exchange,
    RetryableError,
    error_for_status,
    parse_retry_after,
)

FIRST_RETRY_PAUSE = 0.05
SAFE_TO_RETRY = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
KEPT_RESPONSE_HEADERS = ("retry-after", "content-type", "location", "x-request-id")


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    in_call_attempts: int = 3,
) -> tuple[httpx.Response, Exchange]:
    """Send one request; return the response and its record, or raise a classified AdapterError."""
    try:
        try:  # the first try outside tenacity: building its retry state costs on every call
            response = await client.request(method, url, json=json_body, headers=headers)
        except SAFE_TO_RETRY:
            if in_call_attempts <= 1:
                raise
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(SAFE_TO_RETRY),
                stop=stop_after_attempt(in_call_attempts - 1),
                wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05),
                before=_pause_before_first_retry,
                reraise=True,
            ):
                with attempt:
                    response = await client.request(method, url, json=json_body, headers=headers)
    except httpx.TimeoutException as exc:
        raise RetryableError(
            f"{method} {url}: timed out ({type(exc).__name__})",
            exchange=Exchange(method, url, json_body),
        ) from None
    except httpx.TransportError as exc:
        raise RetryableError(
            f"{method} {url}: {type(exc).__name__}: {exc}",
            exchange=Exchange(method, url, json_body),
        ) from None
    exchange = record(method, url, json_body, response)
    error = error_for_status(response.status_code)
    if error is not None:
        raise _error(error, method, url, response, exchange)
    return response, exchange


async def _pause_before_first_retry(state: RetryCallState) -> None:
    if state.attempt_number == 1:
        await asyncio.sleep(FIRST_RETRY_PAUSE)


def _error(
    error: type[AdapterError], method: str, url: str, response: httpx.Response, exchange: Exchange
) -> AdapterError:
    message = f"{method} {url}: HTTP {response.status_code}"
    if issubclass(error, RetryableError):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RetryableError(message, exchange=exchange, retry_after=retry_after)
    return error(message, exchange=exchange)


def record(method: str, url: str, body: Any, response: httpx.Response) -> Exchange:
    try:
        response_body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        response_body = response.text
    return Exchange(
        method=method,
        url=url,
        request_body=body,
        status_code=response.status_code,
        response_body=response_body,
        response_headers={k: v for k, v in response.headers.items() if k in KEPT_RESPONSE_HEADERS},
    )
