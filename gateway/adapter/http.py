"""One HTTP call to a remote system: in-call retry of connection failures, then classification.

Only failures where the request cannot have reached the remote (connect errors, pool timeouts)
are retried here with tenacity; everything else is left to the delivery worker's schedule, which
survives restarts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlencode

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
KEPT_RESPONSE_HEADERS = ("retry-after", "content-type", "location", "x-request-id", "date")


Judge = Callable[[httpx.Response, Exchange], AdapterError | None]


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    secret_params: Collection[str] = (),
    judge: Judge | None = None,
    in_call_attempts: int = 3,
    other_body: Mapping[str, Any] | None = None,
    shown_body: Any = None,
) -> tuple[httpx.Response, Exchange]:
    """Send one request; return the response and its record, or raise a classified AdapterError.

    `judge` decides what an answer means (default: by status); the record shows `secret_params`
    (a token in the query string) as `***`. A body that is not JSON (a file) is given as httpx's
    `content`, or `files` and `data`, in `other_body`. `shown_body`, if given, is what the
    record shows of the body instead (a file's bytes are not kept there).
    """
    shown = _shown_url(url, params, secret_params)
    send = {"json": json_body, "headers": headers, "params": params, **(other_body or {})}
    if shown_body is not None:
        json_body = shown_body
    try:
        try:  # the first try outside tenacity: building its retry state costs on every call
            response = await client.request(method, url, **send)
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
                    response = await client.request(method, url, **send)
    except httpx.TimeoutException as exc:
        raise RetryableError(
            f"{method} {shown}: timed out ({type(exc).__name__})",
            exchange=Exchange(method, shown, json_body),
        ) from None
    except httpx.TransportError as exc:
        raise RetryableError(
            f"{method} {shown}: {type(exc).__name__}",
            exchange=Exchange(method, shown, json_body),
        ) from None
    exchange = record(method, shown, json_body, response)
    if judge is not None:
        failure = judge(response, exchange)
        if failure is not None:
            raise failure
        return response, exchange
    error = error_for_status(response.status_code)
    if error is not None:
        raise status_error(error, method, shown, response, exchange)
    return response, exchange


def _shown_url(url: str, params: Mapping[str, Any] | None, secret: Collection[str]) -> str:
    if not params:
        return url
    plain = urlencode({k: v for k, v in params.items() if k not in secret}, doseq=True)
    hidden = "&".join(f"{k}=***" for k in params if k in secret)
    return f"{url}?{'&'.join(part for part in (plain, hidden) if part)}"


async def _pause_before_first_retry(state: RetryCallState) -> None:
    if state.attempt_number == 1:
        await asyncio.sleep(FIRST_RETRY_PAUSE)


def status_error(
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
