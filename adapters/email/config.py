"""Settings of one email connection, as written under `settings:` in the config file.

One kind of connection serves two audiences: `submitters` (the mail channel of the people who
submit tickets: acknowledgements, public updates, questions and solutions go to the submitter and
cc; their mail comes in through the listener) and `unit` (a support unit that works by mail:
tickets assigned to it are mailed to its addresses, and only those addresses act as the unit).
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from adapters.email.message import parse_address
from adapters.email.tags import ticket_tag_pattern
from gateway.adapter.base import AdapterConfig

Audience = Literal["submitters", "unit"]


class EmailConfig(AdapterConfig):
    """Where mail goes out, who it is from, and (for `submitters`) where mail comes in."""

    audience: Audience = Field(
        default="unit",
        description="`submitters`: mail the submitter and cc of every ticket, and read their "
        "mail; `unit`: the connection's support unit works by mail at `unit_addresses`.",
    )
    sender: str = Field(
        min_length=3,
        max_length=254,
        description="The gateway's own address: From of every message, where replies go.",
    )
    sender_name: str = Field(default="Helpdesk", max_length=120)
    unit_addresses: list[str] = Field(
        default_factory=list,
        description="`unit` only: tickets are mailed here; mail from these addresses acts as the "
        "unit (commands `Status:` and `Assign:` in its first lines).",
    )
    tag: str = Field(
        default="[GGUS #{id}]",
        max_length=60,
        description="The ticket tag put in every subject; `{id}` is the hub id. A message whose "
        "subject carries it belongs to that ticket.",
    )
    smtp_host: str = Field(default="127.0.0.1", max_length=255)
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    templates: str | None = Field(
        default=None,
        description="A directory of templates that replace the shipped ones by file name "
        "(`create.txt`, `create.html`, `entry.*`, `update.*`, `solve.*`, `attach.*`).",
    )
    listen_host: str = Field(default="127.0.0.1", description="`submitters` only")
    listen_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="`submitters` only: `gateway serve` receives mail by SMTP on this port. "
        "Unset: no listener (mail can still come by `gateway mail-in` or the admin API).",
    )
    max_message_bytes: int = Field(
        default=10_000_000,
        ge=10_000,
        le=100_000_000,
        description="Larger messages are refused at SMTP time (552) and by `gateway mail-in`.",
    )
    daily_cap_per_sender: int = Field(
        default=40,
        ge=1,
        description="More messages than this from one sender within 24 h are quarantined.",
    )
    trusted_authserv_id: str | None = Field(
        default=None,
        description="The receiving server whose Authentication-Results header is trusted "
        "(RFC 8601); a DKIM, SPF or DMARC fail it reports sends the message to quarantine.",
    )

    @field_validator("sender", "unit_addresses", mode="after")
    @classmethod
    def _strict_addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            parsed = parse_address(address)
            if parsed is None:
                raise ValueError(f"{address[:80]!r} is not one mail address")
            if parsed.name or address.strip().lower() != parsed.email.lower():
                raise ValueError(
                    f"{address[:80]!r}: give the bare address (a name goes in sender_name)"
                )
        return value

    @field_validator("tag")
    @classmethod
    def _tag_has_id(cls, value: str) -> str:
        if value.count("{id}") != 1:
            raise ValueError("the tag must contain {id} exactly once")
        ticket_tag_pattern(value)
        return value

    @model_validator(mode="after")
    def _audience_needs(self) -> EmailConfig:
        if self.audience == "unit" and not self.unit_addresses:
            raise ValueError("a `unit` connection needs unit_addresses")
        if self.audience == "unit" and self.listen_port is not None:
            raise ValueError("only the `submitters` connection listens for mail")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("smtp_username and smtp_password go together")
        return self

    @property
    def domain(self) -> str:
        """The domain of our own Message-IDs."""
        return _domain_of(self.sender)


@functools.lru_cache(maxsize=64)  # asked for every message sent and read
def _domain_of(sender: str) -> str:
    address = parse_address(sender)
    assert address is not None
    return address.email.rsplit("@", 1)[1]
