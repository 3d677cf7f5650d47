"""The one interface every adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

from gateway.adapter.errors import InboundRejected, PermanentError
from gateway.adapter.models import (
    Action,
    CheckResult,
    Delivery,
    InboundEvent,
    InboundRequest,
    PollResult,
    PushResult,
    RemoteRef,
)
from gateway.inputs import text_problem


class AdapterConfig(BaseModel):
    """Base of every adapter's settings model. Secrets are `SecretStr`, given as `{env: NAME}`."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


ConfigT = TypeVar("ConfigT", bound=AdapterConfig)


class Adapter(ABC, Generic[ConfigT]):
    """Translates canonical tickets to and from one kind of remote system.

    Subclasses set `kind` (the entry-point name), `config_model` and, if they read a mapping file,
    `mapping_model`. The hub calls `push` from the delivery worker only, never from a request.
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[AdapterConfig]]
    mapping_model: ClassVar[type[BaseModel] | None] = None

    def __init__(self, *, name: str, config: ConfigT, mapping: BaseModel | None = None) -> None:
        self.name = name
        self.config = config
        self.mapping = mapping

    @property
    def notifies_submitters(self) -> bool:
        """Whether this connection tells submitters and cc of their tickets (the mail channel):
        the sync policy sends it the acknowledgement, public updates and the solution."""
        return False

    @property
    def carries_attachments(self) -> bool:
        """Whether this connection can send files: the sync policy sends it `attach` deliveries
        (public files only), which `push` hands to `add_attachment`."""
        return False

    @property
    def requirement_tag(self) -> str | None:
        """Set when this connection is a requirements queue (RT's, tagged for tracking): the
        hub opens, links and unlinks requirements there (`POST /tickets/{id}/requirements`)."""
        return None

    @property
    def requirements_for_change_requests(self) -> bool:
        """A requirements queue that gets one for every new Change Request by itself."""
        return False

    @property
    def polls_on_inbound(self) -> bool:
        """Whether a webhook from this remote is only a trigger: the hub then polls it at once
        (RT's scrip calls before RT commits, and says only which ticket changed)."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.config!r}>"

    @classmethod
    def load_mapping(cls, path: Path) -> BaseModel | None:
        """Read and validate this adapter's mapping file (adapters with mappings override)."""
        return None

    async def push(self, delivery: Delivery) -> PushResult:
        """Dispatch one delivery to the method for its action; check the remote ref it names."""
        if delivery.action == Action.CREATE:
            return _storable(await self.create(delivery))
        if delivery.action == Action.NOTICE:
            return _storable(await self.send_notice(delivery))
        if delivery.remote is None:
            raise PermanentError(f"no remote ticket at {self.name} for #{delivery.ticket.id}")
        if delivery.action == Action.ENTRY:
            return _storable(await self.add_entry(delivery))
        if delivery.action == Action.SOLVE:
            return _storable(await self.solve(delivery))
        if delivery.action == Action.ATTACH:
            return _storable(await self.add_attachment(delivery))
        if delivery.action == Action.LINK:
            return _storable(await self.link_requirement(delivery))
        if delivery.action == Action.UNLINK:
            return _storable(await self.unlink_requirement(delivery))
        return _storable(await self.update(delivery))

    @abstractmethod
    async def create(self, delivery: Delivery) -> PushResult:
        """Create the ticket remotely (after looking up `ticket.id`) and return its remote ref."""

    @abstractmethod
    async def update(self, delivery: Delivery) -> PushResult:
        """Bring the remote ticket's public fields up to the canonical ticket."""

    @abstractmethod
    async def add_entry(self, delivery: Delivery) -> PushResult:
        """Add a public journal entry to the remote ticket."""

    @abstractmethod
    async def solve(self, delivery: Delivery) -> PushResult:
        """Tell the remote the ticket is solved or unsolved, with the solution."""

    async def add_attachment(self, delivery: Delivery) -> PushResult:
        """Add `delivery.attachment` (a public file, with its bytes) to the remote ticket.
        Adapters that carry attachments override this and `carries_attachments`."""
        raise PermanentError("this connection does not carry attachments")

    async def send_notice(self, delivery: Delivery) -> PushResult:
        """Mail `delivery.changes["notice"]` to the addresses it names (the mail channel)."""
        raise PermanentError("this connection does not send notices")

    async def link_requirement(self, delivery: Delivery) -> PushResult:
        """Mark the existing remote ticket `delivery.remote` as this hub ticket's requirement."""
        raise PermanentError("this connection does not hold requirements")

    async def unlink_requirement(self, delivery: Delivery) -> PushResult:
        """Take the hub id and the link out of the remote ticket `delivery.remote` again."""
        raise PermanentError("this connection does not hold requirements")

    async def find(self, hub_id: int) -> RemoteRef | None:
        """The remote ticket already carrying this hub id, if the remote can be searched."""
        return None

    async def verify_inbound(self, request: InboundRequest) -> None:
        """Raise `InboundRejected` unless the request is authentic. Default: refuse everything."""
        raise InboundRejected(f"connection {self.name} does not accept inbound requests")

    def translate_inbound(self, request: InboundRequest) -> list[InboundEvent]:
        """The events in an authentic inbound payload, each with the id that makes it apply
        once (no I/O, no side effects)."""
        return []

    def can_poll(self) -> bool:
        """Whether changes can be read from the remote (for remotes without webhooks)."""
        return False

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        """The changes since `cursor` (None: start now, skipping history), as events, and the
        next cursor. Overlap with the previous poll is fine: events are applied once by id."""
        raise NotImplementedError(f"connection {self.name} cannot be polled")

    @abstractmethod
    async def check(self) -> CheckResult:
        """Can we reach and use the remote with this configuration?"""

    async def aclose(self) -> None:
        """Release connections; called at shutdown."""


def _storable(result: PushResult) -> PushResult:
    """A remote id or URL the hub cannot keep is the remote's error, said now, not at write."""
    remote = result.remote
    if remote is None:
        return result
    problem = None
    if not 0 < len(remote.remote_id) <= 255 or text_problem(remote.remote_id):
        problem = f"remote id {remote.remote_id[:80]!r} is empty, too long or not text"
    elif remote.remote_url is not None and (
        len(remote.remote_url) > 2048 or text_problem(remote.remote_url)
    ):
        problem = "remote URL is over 2048 characters or not text"
    if problem is not None:
        raise PermanentError(f"the remote answered, but {problem}", exchange=result.exchange)
    return result


def secret_fields(model: type[BaseModel]) -> list[str]:
    """Names of the fields typed as secrets, however nested (`list[SecretStr] | None`)."""
    return [name for name, info in model.model_fields.items() if _mentions_secret(info.annotation)]


def _mentions_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_mentions_secret(arg) for arg in getattr(annotation, "__args__", ()))
