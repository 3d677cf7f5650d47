"""How inbound webhooks prove their origin.

Standard Webhooks (https://www.standardwebhooks.com/): HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}`, base64 in `webhook-signature` as `v1,<sig>`, several
space-separated signatures allowed (secret rotation), timestamps within 5 minutes either way.
Also a body HMAC in one header (Jira, GitHub style), a shared token header and HTTP Basic, for
systems that cannot sign the Standard way. Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping

from gateway.adapter.errors import InboundRejected

TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def secret_bytes(secret: str) -> bytes:
    """`whsec_<base64>` secrets decode to their key bytes; any other string is used as is."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    return secret.encode()


def usable_secrets(secrets: list[str]) -> None:
    """Raise ValueError naming the first secret that cannot verify anything (a bad secret must
    fail at start-up, not as a 500 on the first webhook)."""
    for index, value in enumerate(secrets):
        if not value.strip():
            raise ValueError(f"secret [{index}] is empty")
        if value.startswith(SECRET_PREFIX):
            try:
                decoded = secret_bytes(value)
            except (binascii.Error, ValueError):
                decoded = b""
            if not decoded:
                raise ValueError(f"secret [{index}] starts with whsec_ but is not base64")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature for one message (used by tests and outbound webhooks)."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Return the webhook id if any signature matches any secret; raise InboundRejected if not."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise InboundRejected("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not UNIX_SECONDS.fullmatch(timestamp):
        raise InboundRejected("webhook-timestamp is not a Unix time in seconds")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise InboundRejected(f"webhook-timestamp is more than {tolerance} s from our clock")
    offered = [s.split(",", 1)[1] for s in signatures.split() if s.startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, msg_id, int(timestamp), body).split(",", 1)[1]
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return msg_id
    raise InboundRejected("no webhook-signature matches a configured secret")


def verify_hmac_sha256(
    secrets: Iterable[str],
    signature: str | None,
    body: bytes,
    *,
    prefix: str = "",
    encoding: str = "hex",
) -> None:
    """A body signed with HMAC-SHA256 in one header, e.g. Jira's `X-Hub-Signature: sha256=<hex>`."""
    if not signature or not signature.startswith(prefix):
        raise InboundRejected("missing or malformed signature header")
    offered = signature.removeprefix(prefix).strip()
    for secret in secrets:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        expected = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
        if hmac.compare_digest(expected.lower() if encoding == "hex" else expected, offered):
            return
    raise InboundRejected("the signature does not match a configured secret")


def verify_token(secrets: Iterable[str], presented: str | None) -> None:
    """A shared secret sent as is in a header (systems that cannot sign, e.g. Znuny's requester
    with an additional header); only safe over HTTPS."""
    if not presented:
        raise InboundRejected("missing token header")
    if not any(hmac.compare_digest(secret.encode(), presented.encode()) for secret in secrets):
        raise InboundRejected("the token does not match a configured secret")


def verify_basic(secrets: Iterable[str], authorization: str | None) -> None:
    """HTTP Basic credentials, each secret written `user:password`."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise InboundRejected("missing basic credentials")
    try:
        presented = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise InboundRejected("malformed basic credentials") from None
    if not any(hmac.compare_digest(secret.encode(), presented.encode()) for secret in secrets):
        raise InboundRejected("the credentials do not match")
