"""JSON pointers (RFC 6901) into payloads, with an error that names the pointer."""

from __future__ import annotations

from typing import Any


class PointerMissing(LookupError):
    def __init__(self, pointer: str) -> None:
        super().__init__(f"nothing at {pointer}")
        self.pointer = pointer


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer`; raise PointerMissing if any step is absent."""
    if pointer in ("", "/"):
        return document
    current = document
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise PointerMissing(pointer)
    if current is None:
        raise PointerMissing(pointer)
    return current
