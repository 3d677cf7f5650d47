"""Settings of one Request Tracker connection, as written under `settings:` in the config file."""

from __future__ import annotations

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from gateway.adapter.base import AdapterConfig
from gateway.inbound.signatures import usable_secrets
from gateway.ticket.enums import Priority, Status

BASE_URL_PATTERN = r"^https?://[^\s/?#@]+(/[^\s?#]*)?$"

# NGI_CZ's mapping (the GGUS practice): a ticket waiting for the submitter is `stalled` in RT.
HUB_TO_RT: dict[str, str] = {
    Status.NEW.value: "new",
    Status.ASSIGNED.value: "new",
    Status.IN_PROGRESS.value: "open",
    Status.WAITING_FOR_REPLY.value: "stalled",
    Status.ON_HOLD.value: "stalled",
    Status.REOPENED.value: "open",
    Status.SOLVED.value: "resolved",
    Status.UNSOLVED.value: "rejected",
    Status.VERIFIED.value: "resolved",
    Status.CLOSED.value: "resolved",
}
# `resolved` and `rejected` are a solution (the last correspondence), never a bare status.
RT_TO_HUB: dict[str, str] = {
    "new": Status.ASSIGNED.value,
    "open": Status.IN_PROGRESS.value,
    "stalled": Status.WAITING_FOR_REPLY.value,
    "resolved": Status.SOLVED.value,
    "rejected": Status.UNSOLVED.value,
    "deleted": Status.UNSOLVED.value,
}
SOLVING = frozenset({Status.SOLVED.value, Status.UNSOLVED.value})
# RT's priorities are numbers (0-100 in the default configuration)
PRIORITY_TO_RT = {
    Priority.LESS_URGENT.value: 0,
    Priority.URGENT.value: 50,
    Priority.VERY_URGENT.value: 75,
    Priority.TOP_PRIORITY.value: 100,
}


def priority_from_rt(value: str) -> Priority:
    try:
        number = int(value)
    except ValueError:
        return Priority.LESS_URGENT
    for priority, floor in sorted(PRIORITY_TO_RT.items(), key=lambda kv: -kv[1]):
        if number >= floor:
            return Priority(priority)
    return Priority.LESS_URGENT


class RtConfig(AdapterConfig):
    """Where RT is, who the gateway is there, which queue is the unit's, and how states map.

    Credentials are `SecretStr` (`{env: NAME}` in the config file): reprs, logs and errors show
    `**********`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = Field(
        pattern=BASE_URL_PATTERN,
        description="RT's web root (its REST 2 API is `<url>/REST/2.0`).",
    )
    user: str = Field(
        min_length=1,
        max_length=200,
        description="The RT user the gateway acts as; its own transactions are never read back.",
    )
    password: SecretStr | None = Field(
        default=None, description="That user's password (HTTP Basic)."
    )
    token: SecretStr | None = Field(
        default=None, description="Or an RT auth token (`Authorization: token ...`)."
    )
    queue: str = Field(min_length=1, max_length=200, description="The queue tickets are made in.")
    hub_id_field: str = Field(
        default="Hub ID",
        min_length=1,
        max_length=200,
        description="The ticket custom field holding the hub id (applied to the queue).",
    )
    hub_ticket_url: str | None = Field(
        default=None,
        max_length=1000,
        description="The hub ticket's address, `{id}` for the hub id: the RT ticket `RefersTo` it.",
    )
    requestor: str | None = Field(
        default=None,
        max_length=254,
        description="Requestor of the tickets made in RT (RT mails its requestors: leave unset "
        "so the hub alone mails the submitter).",
    )
    correspondence: str = Field(
        default="question",
        pattern="^(question|comment)$",
        description="What a correspondence written in RT is at the hub: `question` (to the "
        "submitter, the ticket waits for a reply: close-only) or `comment` (a public entry: "
        "mirror).",
    )
    status_to_rt: dict[str, str] = Field(
        default_factory=dict, description="Hub status -> RT status, over the defaults."
    )
    status_from_rt: dict[str, str] = Field(
        default_factory=dict, description="RT status -> hub status, over the defaults."
    )
    accepts_new_tickets: bool = Field(
        default=False,
        description="RT is also where users submit (an origin): a ticket opened in the queue by "
        "someone else than the gateway becomes a hub ticket.",
    )
    queue_units: dict[str, str] = Field(
        default_factory=dict,
        description="RT queue -> hub support unit: a ticket moved to such a queue is reassigned "
        "to that unit (the assignment rules apply); its tickets are polled too.",
    )
    requirement_tag: str | None = Field(
        default=None,
        max_length=200,
        description="Set for the requirements queue: every ticket made there carries this tag "
        "(in `tag_field`), and its state changes are reported on the hub ticket's link.",
    )
    tag_field: str = Field(default="Tag", min_length=1, max_length=200)
    auto_for_change_requests: bool = Field(
        default=False,
        description="Requirements queue only: open a requirement for every new Change Request.",
    )
    webhook_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Standard Webhooks secrets (`whsec_...`) of RT's scrip (docs/rt-scrip.pl); "
        "its call makes the hub poll now. None: webhooks are refused (polling only).",
    )
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    page_size: int = Field(default=100, ge=1, le=100, description="RT serves at most 100.")

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets_are_usable(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        usable_secrets([secret.get_secret_value() for secret in secrets])
        return secrets

    @field_validator("status_to_rt")
    @classmethod
    def _hub_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {s.value for s in Status})
        if unknown:
            raise ValueError(f"not hub statuses: {', '.join(unknown)}")
        return value

    @field_validator("status_from_rt")
    @classmethod
    def _to_hub_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value.values()) - {s.value for s in Status})
        if unknown:
            raise ValueError(f"not hub statuses: {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> RtConfig:
        if (self.password is None) == (self.token is None):
            raise ValueError("give exactly one of password and token")
        if self.hub_ticket_url is not None and "{id}" not in self.hub_ticket_url:
            raise ValueError("hub_ticket_url must contain {id}")
        return self

    @property
    def rest_url(self) -> str:
        return self.url.rstrip("/") + "/REST/2.0"

    def to_rt_priority(self, priority: str) -> int:
        return PRIORITY_TO_RT.get(priority, 0)

    def to_rt(self, status: str) -> str:
        return {**HUB_TO_RT, **self.status_to_rt}.get(status, "open")

    def from_rt(self, status: str) -> str | None:
        return {**RT_TO_HUB, **self.status_from_rt}.get(status)
