"""Adapters are registered as entry points (group `gateway.adapters`) and loaded here once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from gateway.adapter.base import Adapter

ENTRY_POINT_GROUP = "gateway.adapters"
log = logging.getLogger("gateway.adapters")


class RegistryError(Exception):
    """Duplicate adapter names, or a configured adapter that cannot load."""


@dataclass
class AdapterRegistry:
    kinds: dict[str, type[Adapter[Any]]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_entry_points(cls, points: list[EntryPoint] | None = None) -> AdapterRegistry:
        """Load every registered adapter; refuse two with one name; remember the broken ones."""
        found = list(entry_points(group=ENTRY_POINT_GROUP)) if points is None else points
        names = [point.name for point in found]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise RegistryError(f"adapter name registered more than once: {', '.join(duplicates)}")
        registry = cls()
        for point in found:
            try:
                adapter = point.load()
            except Exception as exc:  # noqa: BLE001 (a plugin may fail in any way; start-up decides)
                registry.broken[point.name] = f"{type(exc).__name__}: {exc}"
                log.warning("adapter failed to load", extra={"adapter": point.name})
                continue
            if not (isinstance(adapter, type) and issubclass(adapter, Adapter)):
                registry.broken[point.name] = f"{point.value} is not an Adapter subclass"
                continue
            if adapter.kind != point.name:
                registry.broken[point.name] = f"{point.value} declares kind {adapter.kind!r}"
                continue
            registry.kinds[point.name] = adapter
        return registry

    def get(self, kind: str) -> type[Adapter[Any]]:
        if kind in self.kinds:
            return self.kinds[kind]
        if kind in self.broken:
            raise RegistryError(f"adapter '{kind}' could not be loaded: {self.broken[kind]}")
        known = ", ".join(sorted(self.kinds)) or "none"
        raise RegistryError(f"no adapter '{kind}' is registered (known: {known})")
