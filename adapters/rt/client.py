"""RT's REST 2 over httpx, with RT's ways: errors inside 200 answers, ETags of transaction ids,
`Location` paths as the only news of a new transaction, custom fields silently dropped.

Written on httpx rather than the `rt` package's async client: that client is built on another
HTTP stack (httpx2, besides requests), turns every answer into its own exceptions without the
request and response a dead letter must show, sends no `If-Match`, and logs request bodies
(ticket text) at debug level. Here every call goes through `gateway.adapter.http.call`, so
retries, the error classes and the exchange kept on a delivery are the hub's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from adapters.rt.config import RtConfig
from gateway.adapter.errors import AdapterError, Exchange, PermanentError, error_for_status
from gateway.adapter.http import call, status_error

# PUT /ticket/:id (and a correspondence's extra fields) answer 200/201 with a list of messages
# whatever happened; RT's refusals read like these (tests/fixtures/rt), its successes like
# "Subject changed from 'a' to 'b'" (which may quote anything, "can't" included).
_REFUSED = re.compile(
    r"isn't a valid|does not exist|doesn't exist|^couldn't|^could not|no permission|"
    r"permission denied|^invalid|not allowed|^you can't|^that user",
    re.IGNORECASE,
)
_SUCCESS = re.compile(r" changed from |^(correspondence|comments) added|added$|deleted$", re.I)
_HARMLESS = re.compile(r"can't change status from '([^']*)' to '\1'|link already exists", re.I)


def refusals(messages: Any) -> list[str]:
    """RT's refusals among the messages of an answer (its text after `Ticket N: `)."""
    found = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, str):
            continue
        text = re.sub(r"^Ticket \d+: ", "", message)
        if _SUCCESS.search(text) or _HARMLESS.search(text):
            continue
        if _REFUSED.search(text):
            found.append(message)
    return found


HISTORY_FIELDS = "Type,Field,OldValue,NewValue,Creator,Created,Data"


class Stale(PermanentError):
    """412: the ticket changed since we read it (the caller reads it again and retries)."""


class RtClient:
    def __init__(self, config: RtConfig) -> None:
        self.config = config
        self.base = config.rest_url
        if config.token is not None:
            headers = {"Authorization": f"token {config.token.get_secret_value()}"}
            auth = None
        else:
            assert config.password is not None
            headers = {}
            auth = httpx.BasicAuth(config.user, config.password.get_secret_value())
        self.http = httpx.AsyncClient(
            timeout=config.timeout_seconds, headers=headers, auth=auth, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        shown_body: Any = None,
    ) -> tuple[httpx.Response, Exchange]:
        return await call(
            self.http,
            method,
            self.base + path,
            json_body=body,
            params=params,
            headers=headers,
            judge=_judge,
            shown_body=shown_body,
        )

    async def json(self, method: str, path: str, **kwargs: Any) -> tuple[Any, Exchange]:
        _, exchange = await self.request(method, path, **kwargs)
        return exchange.response_body, exchange

    async def update(
        self, ticket_id: str, fields: dict[str, Any], *, etag: str | None = None
    ) -> Exchange:
        """PUT the fields; RT's refusals inside the 200 are permanent errors, 412 is `Stale`."""
        headers = {"If-Match": etag} if etag else None
        messages, exchange = await self.json(
            "PUT", f"/ticket/{ticket_id}", body=fields, headers=headers
        )
        refused = refusals(messages)
        if refused:
            raise PermanentError(f"RT refused the update: {'; '.join(refused)}", exchange=exchange)
        return exchange

    async def search(
        self,
        query: str,
        *,
        fields: str,
        page: int = 1,
        order: tuple[str, ...] = ("id",),
        expand: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], Exchange]:
        params: dict[str, Any] = {"query": query, "fields": fields, **(expand or {})}
        params |= {"per_page": self.config.page_size, "page": page}
        params |= {"orderby": list(order), "order": ["ASC"] * len(order)}
        body, exchange = await self.json("GET", "/tickets", params=params)
        return _page(body, exchange), exchange

    async def history(
        self, ticket_id: str, *, page: int = 1, newest_first: bool = True
    ) -> tuple[dict[str, Any], Exchange]:
        params = {"fields": HISTORY_FIELDS, "per_page": 100, "page": page, "orderby": "id"}
        params["order"] = "DESC" if newest_first else "ASC"
        body, exchange = await self.json(
            "GET", f"/ticket/{quote(ticket_id)}/history", params=params
        )
        return _page(body, exchange), exchange

    async def parts(self, transaction_id: str) -> list[dict[str, Any]]:
        """The MIME parts of a correspondence or comment (text decoded; files by id only)."""
        params = {"fields": "ContentType,Filename,Content", "per_page": 100}
        body, exchange = await self.json(
            "GET", f"/transaction/{quote(transaction_id)}/attachments", params=params
        )
        return list(_page(body, exchange)["items"])

    async def attachment(self, attachment_id: str) -> dict[str, Any]:
        body, exchange = await self.json("GET", f"/attachment/{quote(attachment_id)}")
        if not isinstance(body, dict):
            raise PermanentError("RT's attachment answer is not an object", exchange=exchange)
        return body


def _page(body: Any, exchange: Exchange) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PermanentError("RT's answer is not a page of items", exchange=exchange)
    return body


def _judge(response: httpx.Response, exchange: Exchange) -> AdapterError | None:
    """By status (412 is `Stale`); a 2xx whose body is not JSON is not RT's REST 2 answering."""
    if response.status_code == 412:
        return Stale(
            f"{exchange.method} {exchange.url}: HTTP 412 (changed meanwhile)", exchange=exchange
        )
    error = error_for_status(response.status_code)
    if error is not None:
        message = exchange.response_body
        failure = status_error(error, exchange.method, exchange.url, response, exchange)
        if isinstance(message, dict) and isinstance(message.get("message"), str):
            failure.message += f": {message['message'][:300]}"
        return failure
    not_json = "json" not in response.headers.get("content-type", "")
    if isinstance(exchange.response_body, str) and response.content and not_json:
        return PermanentError(
            f"{exchange.method} {exchange.url}: not a REST 2 answer "
            f"({response.headers.get('content-type', 'no content type')})",
            exchange=exchange,
        )
    return None
