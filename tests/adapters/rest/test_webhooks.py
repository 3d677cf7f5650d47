"""Inbound webhooks prove their origin as the mapping's `inbound.verify` says."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from adapters.rest import RestAdapter
from gateway.adapter.errors import InboundRejected
from gateway.adapter.models import InboundRequest
from gateway.inbound.signatures import sign
from tests.adapters.rest.conftest import make_adapter
from tests.adapters.rest.support import JIRA_SECRET, build, fixture, jira, request, znuny

OLD = "whsec_" + base64.b64encode(b"old-secret-bytes").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-bytes").decode()
BODY = b'{"type": "ticket.solved", "ticket": {"id": "9"}, "solution": "done"}'


def standard(secret: str = NEW, *, at: float | None = None, body: bytes = BODY) -> InboundRequest:
    timestamp = int(time.time() if at is None else at)
    return request(
        body,
        **{
            "webhook-id": "msg_1",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, "msg_1", timestamp, body),
        },
    )


async def test_standard_webhooks_accepts_a_valid_signature_and_translates_it() -> None:
    adapter = make_adapter(webhook_secrets=[NEW])
    inbound = standard()
    await adapter.verify_inbound(inbound)
    [event] = adapter.translate_inbound(inbound)
    assert event.event_id == "msg_1"


async def test_standard_webhooks_accepts_either_secret_while_rotating() -> None:
    adapter = make_adapter(webhook_secrets=[OLD, NEW])
    await adapter.verify_inbound(standard(OLD))
    await adapter.verify_inbound(standard(NEW))
    with pytest.raises(InboundRejected):
        await make_adapter(webhook_secrets=[NEW]).verify_inbound(standard(OLD))


@pytest.mark.parametrize("skew", [-301, 301])
async def test_standard_webhooks_refuses_a_timestamp_off_by_more_than_five_minutes(
    skew: int,
) -> None:
    with pytest.raises(InboundRejected, match="webhook-timestamp"):
        await make_adapter(webhook_secrets=[NEW]).verify_inbound(standard(at=time.time() + skew))


async def test_standard_webhooks_refuses_a_changed_body() -> None:
    signed = standard()
    tampered = InboundRequest(headers=signed.headers, body=BODY.replace(b"done", b"DONE"))
    with pytest.raises(InboundRejected):
        await make_adapter(webhook_secrets=[NEW]).verify_inbound(tampered)


def jira_signed(body: bytes, secret: str = JIRA_SECRET) -> InboundRequest:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return request(body, **{"X-Hub-Signature": f"sha256={digest}"})


JIRA_BODY = (
    b'{"webhookEvent": "comment_created", "comment": {"id": "1", "body": "x"}, '
    b'"issue": {"id": "10042", "key": "NGI-12", "fields": {}}}'
)


async def test_hmac_sha256_accepts_a_body_signed_as_jira_signs() -> None:
    await jira("cloud").verify_inbound(jira_signed(JIRA_BODY))


@pytest.mark.parametrize(
    "inbound",
    [
        jira_signed(JIRA_BODY, secret="another-secret"),
        InboundRequest(jira_signed(JIRA_BODY).headers, JIRA_BODY.replace(b'"x"', b'"y"')),
        request(JIRA_BODY, **{"X-Hub-Signature": hashlib.sha256(JIRA_BODY).hexdigest()}),
        request(JIRA_BODY),
    ],
    ids=["other secret", "changed body", "no sha256= prefix", "unsigned"],
)
async def test_hmac_sha256_refuses_what_the_secret_did_not_sign(inbound: InboundRequest) -> None:
    with pytest.raises(InboundRejected):
        await jira("dc").verify_inbound(inbound)


async def test_hmac_sha256_may_be_base64() -> None:
    verify = {"type": "hmac-sha256", "header": "X-Signature", "encoding": "base64"}
    adapter = make_adapter(build({"inbound": {"verify": verify}}), webhook_secrets=["k3y"])
    digest = hmac.new(b"k3y", BODY, hashlib.sha256).digest()
    await adapter.verify_inbound(
        request(BODY, **{"X-Signature": base64.b64encode(digest).decode()})
    )
    with pytest.raises(InboundRejected):
        await adapter.verify_inbound(request(BODY, **{"X-Signature": digest.hex()}))


async def test_a_token_header_is_accepted_when_it_is_a_configured_secret() -> None:
    payload = fixture("znuny", "event_article_create.json")
    await znuny().verify_inbound(request(payload, **{"X-Gateway-Token": "znuny-event-token"}))


@pytest.mark.parametrize(
    "headers",
    [{"X-Gateway-Token": "znuny-event-tokens"}, {"X-Gateway-Token": ""}, {}],
    ids=["wrong", "empty", "missing"],
)
async def test_a_token_header_is_refused_unless_it_matches(headers: dict[str, str]) -> None:
    with pytest.raises(InboundRejected):
        await znuny().verify_inbound(request({"Event": {}}, **headers))


def basic_adapter() -> RestAdapter:
    mapping = build({"inbound": {"verify": {"type": "basic"}}})
    return make_adapter(mapping, webhook_secrets=["hook:pa55:word"])


def basic(credentials: bytes) -> InboundRequest:
    return request(BODY, Authorization="Basic " + base64.b64encode(credentials).decode())


async def test_basic_credentials_are_accepted_when_they_match_a_secret() -> None:
    await basic_adapter().verify_inbound(basic(b"hook:pa55:word"))


@pytest.mark.parametrize(
    "inbound",
    [
        basic(b"hook:wrong"),
        request(BODY, Authorization="Basic !!not-base64!!"),
        request(BODY, Authorization="Bearer hook:pa55:word"),
        request(BODY),
    ],
    ids=["wrong", "malformed", "not basic", "missing"],
)
async def test_basic_credentials_are_refused_unless_they_match(inbound: InboundRequest) -> None:
    with pytest.raises(InboundRejected):
        await basic_adapter().verify_inbound(inbound)


async def test_without_webhook_secrets_even_a_valid_signature_is_refused() -> None:
    adapter = make_adapter(webhook_secrets=[])
    with pytest.raises(InboundRejected, match="does not accept webhooks"):
        await adapter.verify_inbound(standard())


async def test_a_mapping_without_verify_refuses_every_webhook() -> None:
    adapter = make_adapter(build(), webhook_secrets=["s3cret"])  # no inbound.verify
    with pytest.raises(InboundRejected, match="does not accept webhooks"):
        await adapter.verify_inbound(request(BODY, **{"X-Token": "s3cret"}))
