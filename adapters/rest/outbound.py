"""What one outbound request looks like: the template context, the rendered request, the answer.

No I/O here; `adapter.py` sends what this renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.rest.mapping import RequestSpec
from adapters.rest.pointer import get
from adapters.rest.template import Maps, TemplateError, render
from gateway.adapter.errors import Exchange, PermanentError
from gateway.adapter.models import Delivery, RemoteRef


@dataclass(frozen=True, slots=True)
class Rendered:
    method: str
    path: str
    body: Any


def context(delivery: Delivery) -> dict[str, Any]:
    """What placeholders can name: the public ticket as it is now, the entry, the remote ref."""
    remote = delivery.remote
    return {
        "ticket": delivery.ticket.model_dump(mode="json"),
        "entry": delivery.entry.model_dump(mode="json") if delivery.entry else None,
        "remote": {"remote_id": remote.remote_id, "remote_url": remote.remote_url}
        if remote
        else None,
        "hub_id": delivery.ticket.id,
        "changes": delivery.changes,
    }


def render_request(spec: RequestSpec, values: dict[str, Any], maps: Maps) -> Rendered:
    """Fill path and body; a ticket the mapping cannot express is a permanent error."""
    try:
        path = render(spec.path, values, maps, in_url=True)
        body = render(spec.body, values, maps)
    except TemplateError as exc:  # retrying cannot change the mapping: dead letter, loudly
        raise PermanentError(
            f"mapping cannot render {spec.method} {spec.path}: {exc}",
            exchange=Exchange(spec.method, spec.path),
        ) from None
    return Rendered(spec.method, str(path), body)


def remote_ref(spec: RequestSpec, response_body: Any) -> RemoteRef | None:
    """The remote ticket named in a create or look-up response, if the pointer finds an id."""
    if spec.remote_id is None:
        return None
    remote_id = get(response_body, spec.remote_id)
    if not isinstance(remote_id, str | int) or isinstance(remote_id, bool) or remote_id == "":
        return None
    url = get(response_body, spec.remote_url)
    return RemoteRef(str(remote_id), url if isinstance(url, str) else None)
