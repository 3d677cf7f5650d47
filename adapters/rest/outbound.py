"""Speaking to the remote as the mapping says: authenticate, render, send, judge, run actions.

An action is a list of requests; each may be skipped by its `when` and may `save` values of its
answer for the ones after it (read the transitions, then post the one named "Done"). Every answer
is judged by the mapping's status table and, for 2xx answers, its `error_when` (systems that
answer errors with 200), into the adapter contract's typed errors.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.rest.config import RestConfig
from adapters.rest.mapping import Action, Request, RestMapping
from adapters.rest.templates import MappingTemplateError, Templates, without_nulls
from gateway.adapter import http
from gateway.adapter.errors import (
    RETRYABLE_STATUS,
    AdapterError,
    AuthenticationError,
    Exchange,
    PermanentError,
    RetryableError,
    parse_retry_after,
)
from gateway.adapter.models import AttachedFile, Delivery, RemoteRef

ERRORS: dict[str, type[AdapterError]] = {
    "retry": RetryableError,
    "dead": PermanentError,
    "pause": AuthenticationError,
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_outcome(status: int) -> str:
    if status < 300:
        return "ok"
    if status < 400:  # not followed: the request was not applied where it was sent
        return "dead"
    if status in (401, 403):
        return "pause"
    if status in RETRYABLE_STATUS or status >= 500:
        return "retry"
    return "dead"


@dataclass(frozen=True, slots=True)
class Answer:
    """One request's answer: its status, its JSON body (or text), and its record."""

    status: int
    body: Any
    exchange: Exchange


class Speaker:
    """The HTTP side of one connection: its client, its auth, the mapping's requests."""

    def __init__(self, mapping: RestMapping, config: RestConfig, templates: Templates) -> None:
        self.mapping = mapping
        self.templates = templates
        self.values = config.template_values()
        top = {"values": self.values, "secrets": config.secret_values(), "now": now_iso()}
        headers = {"Accept": "application/json", "User-Agent": "ticket-gateway"}
        self.params: dict[str, Any] = {}
        self.secret_params: set[str] = set()
        auth = mapping.auth
        auth_header: httpx.Auth | None = None
        try:
            token = templates.text(auth.token, top) if auth.type == "bearer" and auth.token else ""
            if token:  # an upgraded version 1 mapping with no token sends none, as before
                headers["Authorization"] = f"Bearer {token}"
            elif auth.type == "basic" and auth.username and auth.password:
                auth_header = httpx.BasicAuth(
                    templates.text(auth.username, top), templates.text(auth.password, top)
                )
            elif auth.type == "header" and auth.name and auth.value:
                headers[auth.name] = templates.text(auth.value, top)
            elif auth.type == "query" and auth.name and auth.value:
                self.params[auth.name] = templates.text(auth.value, top)
                self.secret_params.add(auth.name)
            headers.update({k: templates.text(v, top) for k, v in mapping.headers.items()})
            self.params.update(without_nulls(templates.render(mapping.query, top)))
        except MappingTemplateError as exc:
            raise ValueError(f"the mapping's auth or headers cannot be rendered: {exc}") from None
        self.client = httpx.AsyncClient(
            base_url=config.base_url,
            headers=headers,
            auth=auth_header,
            timeout=config.timeout_seconds,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(
        self,
        request: Request,
        context: dict[str, Any],
        *,
        key: str | None = None,
        file: AttachedFile | None = None,
    ) -> Answer:
        """Render one request, send it, judge the answer; raise the contract's typed errors.

        `file` is the attachment a `multipart` or `body_raw` request sends; the record of the
        request names it instead of keeping its bytes (or their base64 in a JSON body).
        """
        other: dict[str, Any] | None = None
        shown: Any = None
        try:
            path = self.templates.path(request.path, context)
            params = {
                name: value
                for name, value in self.templates.render(request.query, context).items()
                if value is not None
            }
            headers = {n: self.templates.text(v, context) for n, v in request.headers.items()}
            body = without_nulls(self.templates.render(request.body, context))
            if request.multipart is not None or request.body_raw is not None:
                if file is None:
                    raise MappingTemplateError("this request sends a file, and there is none")
                other, shown = self._file_body(request, context, file, headers)
            elif file is not None:
                shown = _hide_file(body, context, file)
        except MappingTemplateError as exc:  # retrying cannot change the mapping: dead letter
            raise PermanentError(
                f"mapping cannot render {request.method} {request.path}: {exc}",
                exchange=Exchange(request.method, request.path),
            ) from None
        if key is not None and self.mapping.idempotency_header:
            headers[self.mapping.idempotency_header] = key
        response, exchange = await http.call(
            self.client,
            request.method,
            path,
            json_body=body if other is None else None,
            headers=headers or None,
            params={**self.params, **params},
            secret_params=self.secret_params,
            judge=self._judge,
            other_body=other,
            shown_body=shown,
        )
        return Answer(response.status_code, exchange.response_body, exchange)

    def _file_body(
        self,
        request: Request,
        context: dict[str, Any],
        file: AttachedFile,
        headers: dict[str, str],
    ) -> tuple[dict[str, Any], Any]:
        """httpx's arguments for a file body, and what the record shows of it."""
        named = f"<{file.filename}, {file.size} bytes>"
        multipart = request.multipart
        if multipart is None:  # body_raw: the bytes as they are
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/octet-stream"
            return {"content": file.data}, named
        filename = self.templates.text(multipart.filename, context)
        fields = {
            name: _form_value(value)
            for name, value in self.templates.render(multipart.fields, context).items()
            if value is not None
        }
        files = {multipart.file_field: (filename, file.data, file.content_type)}
        return {"files": files, "data": fields}, {
            "multipart": {**fields, multipart.file_field: named}
        }

    async def run(
        self,
        action: Action,
        context: dict[str, Any],
        *,
        key: str | None = None,
        file: AttachedFile | None = None,
    ) -> tuple[dict[str, Any], Exchange | None]:
        """Every request of the action in order; the context after the last, and its record."""
        steps: dict[str, Any] = {}
        current = {**context, "steps": steps}
        exchange = None
        for request in action.steps:
            if not self._test(request.when, current, request):
                continue
            answer = await self.send(request, current, key=key, file=file)
            exchange = answer.exchange
            current = {**current, "response": answer.body, "status": answer.status}
            for name, template in request.save.items():
                steps[name] = self._render(template, current, request, answer.exchange)
        return current, exchange

    def remote_ref(
        self, action: Action, context: dict[str, Any], exchange: Exchange | None
    ) -> RemoteRef | None:
        """The remote ticket an action's answers name, if any."""
        if action.result is None:
            return None
        remote_id = self._render(action.result.remote_id, context, action.steps[-1], exchange)
        if remote_id in (None, "") or isinstance(remote_id, bool | dict | list):
            return None
        url = None
        if action.result.remote_url is not None:
            url = self._render(action.result.remote_url, context, action.steps[-1], exchange)
        return RemoteRef(str(remote_id), str(url) if url else None)

    def _judge(self, response: httpx.Response, exchange: Exchange) -> AdapterError | None:
        responses = self.mapping.responses
        outcome = responses.outcomes.get(str(response.status_code)) or default_outcome(
            response.status_code
        )
        message = f"{exchange.method} {exchange.url}: HTTP {response.status_code}"
        if outcome == "ok" and responses.error_when is not None:
            context = {
                "response": exchange.response_body,
                "status": response.status_code,
                "values": self.values,
            }
            try:
                if self.templates.test(responses.error_when, context):
                    outcome = "dead"
                    if responses.error_outcome:
                        chosen = self.templates.text(responses.error_outcome, context).strip()
                        outcome = chosen if chosen in ("retry", "pause") else "dead"
                    if responses.error_message:
                        message += ": " + self.templates.text(responses.error_message, context)
            except MappingTemplateError as exc:
                return PermanentError(
                    f"{message}: mapping cannot judge the answer: {exc}", exchange=exchange
                )
        if outcome == "ok":
            return None
        error = ERRORS.get(outcome, PermanentError)
        if error is RetryableError:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return RetryableError(message, exchange=exchange, retry_after=retry_after)
        return error(message, exchange=exchange)

    def _test(self, condition: str | bool, context: dict[str, Any], request: Request) -> bool:
        return bool(self._render(condition, context, request, None))

    def _render(
        self, template: Any, context: dict[str, Any], request: Request, exchange: Exchange | None
    ) -> Any:
        try:
            return self.templates.render(template, context)
        except MappingTemplateError as exc:
            raise PermanentError(
                f"mapping cannot read the answer of {request.method} {request.path}: {exc}",
                exchange=exchange or Exchange(request.method, request.path),
            ) from None


def _form_value(value: Any) -> str:
    """A form field's text: numbers as written, true/false, lists and dicts as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _hide_file(body: Any, context: dict[str, Any], file: AttachedFile) -> Any:
    """The body as recorded: the file's base64 named instead of kept (None: nothing to hide)."""
    encoded = (context.get("attachment") or {}).get("base64")
    if not encoded:
        return None
    named = f"<base64 of {file.filename}, {file.size} bytes>"

    def hide(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(encoded, named) if encoded in value else value
        if isinstance(value, dict):
            return {k: hide(v) for k, v in value.items()}
        if isinstance(value, list):
            return [hide(v) for v in value]
        return value

    return hide(body)


def delivery_context(delivery: Delivery, values: dict[str, Any]) -> dict[str, Any]:
    """What an outbound template can name: the public ticket as it is now, the entry, the
    remote ticket, the changes that caused the delivery, the ticket's relations with the remote
    ids of those this connection holds too, the connection's values, and for an
    `attach` delivery the file (`attachment`: filename, content_type, size, base64)."""
    remote = delivery.remote
    file = delivery.attachment
    return {
        "ticket": delivery.ticket.model_dump(mode="json"),
        "entry": delivery.entry.model_dump(mode="json") if delivery.entry else None,
        "remote": {"remote_id": remote.remote_id, "remote_url": remote.remote_url}
        if remote
        else None,
        "hub_id": delivery.ticket.id,
        "changes": delivery.changes,
        "relations": [
            {
                "role": r.role.value,
                "ticket": r.ticket,
                "remote_id": ref.remote_id if (ref := delivery.related.get(r.ticket)) else None,
            }
            for r in delivery.ticket.relations
        ],
        "values": values,
        "key": delivery.idempotency_key,
        "now": now_iso(),
        **(
            {
                "attachment": {
                    "id": file.id,
                    "filename": file.filename,
                    "content_type": file.content_type,
                    "size": file.size,
                    "base64": base64.b64encode(file.data).decode("ascii"),
                }
            }
            if file is not None
            else {}
        ),
    }
