"""Request Tracker 5 (REST 2): a unit's own system, and the requirements queue."""

from adapters.rt.adapter import RtAdapter

__all__ = ["RtAdapter"]
