"""JSON pointers (RFC 6901) into webhook payloads and API responses.

Mappings say where a value is with a pointer such as `/ticket/id`, so a missing value can be
reported by the pointer the mapping author wrote.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints

# "" is the whole document; otherwise "/"-separated tokens where "~" is escaped as ~0 or ~1.
POINTER_PATTERN = r"^(/([^~/]|~[01])*)*$"
Pointer = Annotated[str, StringConstraints(pattern=POINTER_PATTERN)]


class PointerMissing(LookupError):
    """Nothing (or JSON null) at the pointer; `pointer` names where we looked."""

    def __init__(self, pointer: str) -> None:
        super().__init__(f"nothing at {pointer}")
        self.pointer = pointer


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer`; raise PointerMissing if a step is absent or the value is null.

    Null counts as missing because remotes commonly send `"external_id": null` for "not set".
    """
    current = document
    if pointer:
        for raw in pointer[1:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(current, dict) and token in current:
                current = current[token]
            elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
                current = current[int(token)]
            else:
                raise PointerMissing(pointer)
    if current is None:
        raise PointerMissing(pointer)
    return current


def get(document: Any, pointer: str | None) -> Any:
    """The value at `pointer`, or None when the pointer is unset or finds nothing."""
    if pointer is None:
        return None
    try:
        return resolve(document, pointer)
    except PointerMissing:
        return None
