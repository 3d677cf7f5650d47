"""Version 1 mapping files, upgraded to version 2: loaded as they are, or written out by
`gateway upgrade-mapping FILE`.

Version 1 had one request per action, JSON pointers for answers and payloads, `{{ x | map }}`
placeholders, a bearer token, Standard Webhooks and one command per event type. Each of these has
a direct version 2 form, so an upgraded file behaves as the original did.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.\w+)*)\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\}\}")


def upgrade_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """The version 2 form of a version 1 mapping (a malformed one is upgraded as far as it goes,
    and the version 2 checks name what is wrong)."""
    found = raw.get("outbound")
    outbound: dict[str, Any] = found if isinstance(found, dict) else {}
    upgraded: dict[str, Any] = {
        "version": 2,
        "auth": {"type": "bearer", "token": "{{ secrets.token | default('') }}"},
        "maps": raw.get("maps", {}),
        "outbound": {},
        "inbound": _inbound(raw.get("inbound")),
    }
    for action in ("create", "update", "entry", "solve"):
        if action in outbound:
            upgraded["outbound"][action] = _action(outbound[action], outbound_of=action)
    if isinstance(outbound.get("lookup"), dict):
        upgraded["outbound"]["find"] = _action(outbound["lookup"], outbound_of="find")
    if isinstance(outbound.get("check"), dict):
        upgraded["outbound"]["check"] = _request(outbound["check"])
    return upgraded


def _action(spec: Any, *, outbound_of: str) -> Any:
    if not isinstance(spec, dict):
        return spec
    action: dict[str, Any] = {"steps": [_request(spec)]}
    if spec.get("remote_id"):
        action["result"] = {"remote_id": _answer(spec["remote_id"])}
        if spec.get("remote_url"):
            action["result"]["remote_url"] = _answer(spec["remote_url"])
    return action


def _request(spec: dict[str, Any]) -> dict[str, Any]:
    request = {k: v for k, v in spec.items() if k in ("method", "path", "body")}
    for key in ("path", "body"):
        if key in request:
            request[key] = _templates(request[key])
    path = str(request.get("path", ""))
    if "?" in path:  # v1 wrote the query into the path; v2 keeps it apart (and encodes it)
        path, _, query = path.partition("?")
        request["path"] = path
        request["query"] = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return request


def _templates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _templates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_templates(v) for v in value]
    if isinstance(value, str):
        return PLACEHOLDER.sub(_placeholder, value)
    return value


def _placeholder(match: re.Match[str]) -> str:
    path, map_name = match.group(1), match.group(2)
    if map_name is None:
        return f"{{{{ {path} }}}}"
    return f"{{{{ {path} | to_remote('{map_name}') }}}}"


def _pointer(pointer: str, root: str) -> str:
    """A JSON pointer as an expression: `/items/0/id` -> `response['items'][0]['id']`."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    return root + "".join(f"[{p}]" if p.isdigit() else f"[{p!r}]" for p in parts)


def _answer(pointer: str) -> str:
    return f"{{{{ {_pointer(pointer, 'response')} | default(none) }}}}"


def _inbound(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        return {}
    event_id = (
        f"{{{{ {_pointer(spec['event_id'], 'payload')} | default(headers['webhook-id']) }}}}"
        if spec.get("event_id")
        else "{{ headers['webhook-id'] }}"
    )
    rules = []
    for event_type, event in (spec.get("events") or {}).items():
        if not isinstance(event, dict):
            continue
        command: dict[str, Any] = {
            "kind": event.get("command"),
            "remote_id": f"{{{{ {_pointer(spec.get('remote_id', '/id'), 'payload')} | string }}}}",
        }
        if spec.get("hub_id"):
            command["hub_id"] = f"{{{{ {_pointer(spec['hub_id'], 'payload')} | default(none) }}}}"
        if event.get("command") == "create" and spec.get("remote_url"):
            command["remote_url"] = (
                f"{{{{ {_pointer(spec['remote_url'], 'payload')} | default(none) }}}}"
            )
        fields = dict(event.get("constants") or {})
        maps = event.get("maps") or {}
        for field, pointer in (event.get("fields") or {}).items():
            value = _pointer(pointer, "payload")
            if field in maps:
                value = f"({value} | to_hub('{maps[field]}') if {value} is defined else none)"
            fields[field] = f"{{{{ {value} | default(none) }}}}"
        for field, value in fields.items():
            _set(command, field, value)
        rules.append(
            {
                "name": event_type,
                "when": f"{{{{ {_pointer(spec.get('event_type', '/type'), 'payload')} "
                f"| default(none) == {event_type!r} }}}}",
                "event_id": event_id,
                "commands": [command],
            }
        )
    return {"verify": {"type": "standard-webhooks"}, "rules": rules}


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value
