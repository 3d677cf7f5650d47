"""The mapping file (version 2): how one kind of remote system is spoken to and listened to.

`schemas/mapping-rest.schema.json` is exported from these models and `docs/mappings.md`
describes every construct with examples a test runs. `load_mapping` resolves `extends` (shared
parts), upgrades a version 1 file in memory (`gateway upgrade-mapping` writes it out), and reports
every problem with its key in one go: the file's shape with every template that does not compile;
once the shape is right, also names a template may not read and maps it does not define.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.adapter.errors import AdapterConfigError
from gateway.config.loader import key_path

PROJECT_MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
Template = str
Condition = str | bool
Outcome = Literal["ok", "retry", "dead", "pause"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Auth(_Strict):
    """How every request authenticates. Values are templates over `values` and `secrets`."""

    type: Literal["none", "bearer", "basic", "header", "query"] = "none"
    token: Template | None = Field(default=None, description="bearer: the token")
    username: Template | None = Field(default=None, description="basic: the user name")
    password: Template | None = Field(default=None, description="basic: the password")
    name: str | None = Field(default=None, description="header / query: its name")
    value: Template | None = Field(default=None, description="header / query: its value")

    @model_validator(mode="after")
    def _complete(self) -> Auth:
        needs = {
            "bearer": ("token",),
            "basic": ("username", "password"),
            "header": ("name", "value"),
            "query": ("name", "value"),
        }.get(self.type, ())
        missing = [field for field in needs if getattr(self, field) is None]
        if missing:
            raise ValueError(f"auth type '{self.type}' needs {', '.join(missing)}")
        return self


class Multipart(_Strict):
    """A `multipart/form-data` body: the attachment's bytes as one file part, and form fields."""

    file_field: str = Field(default="file", min_length=1, description="The file part's name")
    filename: Template = Field(
        default="{{ attachment.filename }}", description="The file part's file name"
    )
    fields: dict[str, Template] = Field(
        default_factory=dict, description="Other form fields (templates; null: left out)"
    )


class Request(_Strict):
    """One HTTP request; `save` keeps values of its answer for the steps after it."""

    when: Condition = Field(default=True, description="Skip this request unless true")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: Template = Field(pattern=r"^/", description="Relative to base_url; values URL-encoded")
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters (templates)")
    headers: dict[str, Template] = Field(default_factory=dict, description="Extra headers")
    body: Any = Field(default=None, description="JSON body template; null: no body")
    multipart: Multipart | None = Field(
        default=None,
        description="`attach` only: send the attachment as multipart/form-data instead of JSON",
    )
    body_raw: Literal["attachment"] | None = Field(
        default=None,
        description="`attach` only: the body is the attachment's bytes as they are "
        "(Content-Type application/octet-stream unless `headers` say otherwise)",
    )
    save: dict[str, Template] = Field(
        default_factory=dict,
        description="name -> template over `response` (its JSON body), kept as `steps.<name>`",
    )

    @model_validator(mode="after")
    def _one_body(self) -> Request:
        given = [
            name
            for name, value in (
                ("body", self.body),
                ("multipart", self.multipart),
                ("body_raw", self.body_raw),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise ValueError(f"a request has one body: {' and '.join(given)} both given")
        return self


class RemoteRef(_Strict):
    remote_id: Template = Field(description="The remote ticket's id; empty or null: none")
    remote_url: Template | None = None


class Action(_Strict):
    """The requests one delivery makes, in order (e.g. read the transitions, then post one)."""

    steps: list[Request] = Field(min_length=1)
    result: RemoteRef | None = Field(
        default=None, description="create and find: where the remote ticket is in the answers"
    )


class Outbound(_Strict):
    create: Action
    update: Action
    entry: Action
    solve: Action
    attach: Action | None = Field(
        default=None,
        description="Add a public file to the remote ticket (`attachment`); without it the "
        "connection is sent no files",
    )
    find: Action | None = Field(
        default=None,
        description="Find the remote ticket carrying `hub_id`; run before a create is retried.",
    )
    check: Request | None = Field(
        default=None, description="A cheap authenticated request for the health check."
    )


class ValueMap(_Strict):
    """Explicit both ways: a value missing from the direction in use is an error, not a guess."""

    outbound: dict[str, str] = Field(description="Canonical value -> remote value.")
    inbound: dict[str, str] = Field(description="Remote value -> canonical value.")


class Responses(_Strict):
    """How answers are judged: the status table, and errors inside a 2xx answer."""

    outcomes: dict[str, Outcome] = Field(
        default_factory=dict,
        description="HTTP status -> outcome, overriding the default table "
        "(2xx ok; 401/403 pause; 408/425/429/5xx retry; other 4xx dead).",
    )
    error_when: Condition | None = Field(
        default=None, description="A 2xx answer that is really an error (e.g. Znuny's `Error`)"
    )
    error_message: Template | None = None
    error_outcome: Template | None = Field(
        default=None, description="retry, dead or pause for such an error (default dead)"
    )


class Verify(_Strict):
    """How an inbound webhook proves where it comes from (secrets: `webhook_secrets`)."""

    type: Literal["standard-webhooks", "hmac-sha256", "token", "basic"]
    header: str | None = Field(default=None, description="hmac-sha256 / token: the header")
    prefix: str = Field(default="", description="hmac-sha256: before the digest, e.g. sha256=")
    encoding: Literal["hex", "base64"] = "hex"


class Rule(_Strict):
    """Remote data -> events: when it applies, what it repeats over, the commands it makes."""

    name: str | None = None
    when: Condition = True
    for_each: Template | None = Field(default=None, description="A list in the payload")
    as_: str = Field(default="item", alias="as", pattern=r"^[a-z_][a-z0-9_]*$")
    event_id: Template = Field(description="Unique per change: how the hub applies it once")
    commands: list[dict[str, Any]] = Field(
        min_length=1,
        description="Command templates; `kind` names the command, null values are left out",
    )


class Inbound(_Strict):
    verify: Verify | None = Field(default=None, description="Webhooks: how they are verified")
    rules: list[Rule] = Field(default_factory=list)


class PollList(Request):
    items: Template = Field(description="The changed items in the answer")
    key: Template = Field(description="An item's identity, e.g. `{{ item.id }}`")
    version: Template = Field(description="An item's last change, e.g. `{{ item.updated_on }}`")


class PollDetail(Request):
    document: Template = Field(
        default="{{ response }}", description="What the rules see, from the detail answer"
    )


class Poll(_Strict):
    """Read what changed since the cursor: a list, then per item an optional detail."""

    start: Template = Field(
        default="{{ now }}", description="The first cursor: history before it is not read"
    )
    list: PollList
    detail: PollDetail | None = None
    page_size: int = Field(default=100, ge=1, le=1000)


class RestMapping(_Strict):
    """A mapping file for the declarative REST adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="REST adapter mapping")

    version: Literal[2]
    description: str | None = None
    auth: Auth = Field(default_factory=Auth)
    headers: dict[str, Template] = Field(default_factory=dict, description="On every request")
    query: dict[str, Template] = Field(default_factory=dict, description="On every request")
    idempotency_header: str | None = Field(
        default="Idempotency-Key",
        description="Header carrying the delivery's key, stable across retries (null: none)",
    )
    remote_honours_idempotency: bool = Field(
        default=False,
        description="The remote applies a repeated key once, so a create may be retried blind",
    )
    maps: dict[str, ValueMap] = Field(default_factory=dict)
    responses: Responses = Field(default_factory=Responses)
    outbound: Outbound
    inbound: Inbound = Field(default_factory=Inbound)
    poll: Poll | None = None


def load_mapping(path: Path) -> RestMapping:
    """Read and check a mapping file, or raise AdapterConfigError listing every problem."""
    from adapters.rest.checks import mapping_problems
    from adapters.rest.upgrade import upgrade_v1

    raw = _read(path, seen=())
    if isinstance(raw, dict) and raw.get("version") == 1:
        raw = upgrade_v1(raw)
    mapping = parse_mapping(raw, source=str(path))
    problems = mapping_problems(mapping)
    if problems:
        raise AdapterConfigError(f"{path} has {len(problems)} problem(s)", problems)
    return mapping


def parse_mapping(raw: Any, *, source: str = "mapping") -> RestMapping:
    """Validate already-parsed mapping data (after `extends` was resolved)."""
    if not isinstance(raw, dict):
        problem = {"key": "(top level)", "message": "the mapping must be a YAML mapping"}
        raise AdapterConfigError(f"{source} is invalid", [problem])
    try:
        return RestMapping.model_validate(raw)
    except ValidationError as exc:
        from adapters.rest.checks import syntax_problems

        problems = [
            {"key": key_path(e["loc"]) or "(top level)", "message": e["msg"]} for e in exc.errors()
        ] + syntax_problems(raw)
        raise AdapterConfigError(f"{source} has {len(problems)} problem(s)", problems) from None


def _read(path: Path, *, seen: tuple[Path, ...]) -> Any:
    """The file's data with `extends` merged in: the base first, this file's values win."""
    path = path.resolve()
    if path in seen:
        raise AdapterConfigError(
            f"cannot read mapping {path}", [{"key": "extends", "message": "extends itself"}]
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AdapterConfigError(
            f"cannot read mapping {path}", [{"key": "(file)", "message": str(exc)}]
        ) from None
    if not isinstance(raw, dict) or "extends" not in raw:
        return raw
    name = str(raw.pop("extends"))
    base_path = next(
        (p for p in (path.parent / name, PROJECT_MAPPINGS / name) if p.is_file()), None
    )
    if base_path is None:
        raise AdapterConfigError(
            f"cannot read mapping {path}",
            [{"key": "extends", "message": f"mapping file '{name}' not found"}],
        )
    return merge(_read(base_path, seen=(*seen, path)), raw)


def merge(base: Any, override: Any) -> Any:
    """Deep merge of mappings: dicts merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base.get(key), value) if key in base else value
        return merged
    return override
