"""Reading what the gateway mailed, as a recipient's client would."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def plain(message: EmailMessage) -> str:
    """The text/plain body."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text: str = part.get_content()
    return text
