"""Standard Webhooks verification of inbound requests, and the event id used to apply them once."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest

from adapters.rest import RestAdapter
from gateway.adapter.errors import InboundRejected
from gateway.adapter.models import InboundRequest
from gateway.inbound.signatures import sign
from tests.adapters.rest.conftest import default_mapping, make_adapter

OLD = "whsec_" + base64.b64encode(b"old-secret-bytes").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-bytes").decode()
PLAIN = "a-plain-shared-secret"
BODY = b'{"type": "ticket.solved", "ticket": {"id": "9"}, "solution": "done"}'


def signed(
    body: bytes = BODY, *, secret: str = NEW, at: float | None = None, msg_id: str = "msg_1"
) -> InboundRequest:
    timestamp = int(time.time() if at is None else at)
    return InboundRequest(
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
        },
        body=body,
    )


def with_secrets(*secrets: str) -> RestAdapter:
    return make_adapter(webhook_secrets=list(secrets))


async def test_a_validly_signed_request_is_accepted() -> None:
    await with_secrets(NEW).verify_inbound(signed())


async def test_either_secret_is_accepted_while_rotating() -> None:
    adapter = with_secrets(OLD, NEW)
    await adapter.verify_inbound(signed(secret=OLD))
    await adapter.verify_inbound(signed(secret=NEW))
    with pytest.raises(InboundRejected):
        await with_secrets(NEW).verify_inbound(signed(secret=OLD))  # rotation over: old refused


async def test_whsec_secrets_are_base64_keys_and_plain_secrets_are_bytes() -> None:
    key = base64.b64encode(PLAIN.encode()).decode()
    # the same key bytes, written both ways, verify each other's signatures
    await with_secrets(f"whsec_{key}").verify_inbound(signed(secret=PLAIN))
    await with_secrets(PLAIN).verify_inbound(signed(secret=f"whsec_{key}"))
    with pytest.raises(InboundRejected):  # the base64 text itself is not the key
        await with_secrets(key).verify_inbound(signed(secret=f"whsec_{key}"))


async def test_one_matching_signature_among_several_is_enough() -> None:
    good = signed()
    timestamp = int(good.headers["webhook-timestamp"])
    other = sign(OLD, "msg_1", timestamp, BODY)
    headers = {
        **good.headers,
        "webhook-signature": f"v2,xyz {other} {good.headers['webhook-signature']}",
    }
    await with_secrets(NEW).verify_inbound(InboundRequest(headers=headers, body=BODY))


def without(header: str) -> InboundRequest:
    return InboundRequest(
        headers={k: v for k, v in signed().headers.items() if k != header}, body=BODY
    )


def changed(body: bytes = BODY, **headers: str) -> InboundRequest:
    return InboundRequest(headers={**signed().headers, **headers}, body=body)


# Built when the test runs, not at collection: the timestamps must be fresh.
BAD_REQUESTS: dict[str, tuple[Callable[[], InboundRequest], str]] = {
    "wrong-secret": (lambda: signed(secret=OLD), "no webhook-signature matches"),
    "body-changed": (lambda: changed(BODY + b" "), "no webhook-signature matches"),
    "id-changed": (lambda: changed(**{"webhook-id": "msg_2"}), "no webhook-signature matches"),
    "unsigned": (lambda: InboundRequest(headers={}, body=BODY), "missing webhook-id"),
    "no-id": (lambda: without("webhook-id"), "missing webhook-id, webhook-timestamp"),
    "no-timestamp": (lambda: without("webhook-timestamp"), "missing webhook-id, webhook-timestamp"),
    "no-signature": (lambda: without("webhook-signature"), "missing webhook-id, webhook-timestamp"),
    "bad-timestamp": (lambda: changed(**{"webhook-timestamp": "yesterday"}), "not a Unix time"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
async def test_bad_requests_are_rejected(case: str) -> None:
    make, message = BAD_REQUESTS[case]
    with pytest.raises(InboundRejected, match=message):
        await with_secrets(NEW).verify_inbound(make())


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
async def test_timestamps_more_than_five_minutes_off_are_rejected(offset: int) -> None:
    with pytest.raises(InboundRejected, match="more than 300 s"):
        await with_secrets(NEW).verify_inbound(signed(at=time.time() + offset))


@pytest.mark.parametrize("offset", [-290, 290])
async def test_timestamps_within_five_minutes_are_accepted(offset: int) -> None:
    await with_secrets(NEW).verify_inbound(signed(at=time.time() + offset))


async def test_no_secret_configured_refuses_even_a_signed_request() -> None:
    with pytest.raises(InboundRejected, match="no webhook secret configured"):
        await with_secrets().verify_inbound(signed())


def test_event_id_is_the_webhook_id_header() -> None:
    assert with_secrets(NEW).event_id(signed(msg_id="msg_77")) == "msg_77"
    assert with_secrets(NEW).event_id(InboundRequest(headers={}, body=BODY)) is None


def test_event_id_from_the_payload_when_the_mapping_says_where() -> None:
    base = default_mapping()
    mapping = base.model_copy(
        update={"inbound": base.inbound.model_copy(update={"event_id": "/event/id"})}
    )
    adapter = make_adapter(mapping)
    body = json.dumps({"event": {"id": "evt-5"}, "type": "x"}).encode()
    assert adapter.event_id(signed(body, msg_id="msg_1")) == "evt-5"
    assert adapter.event_id(signed(BODY, msg_id="msg_1")) == "msg_1"  # not there: the header
    long_id = "m" * 300
    stored = adapter.event_id(InboundRequest(headers={"webhook-id": long_id}, body=BODY))
    assert stored is not None and len(stored) <= 255 and stored.startswith("sha256:")
