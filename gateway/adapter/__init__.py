"""The adapter contract: what every adapter implements, the errors it raises, and the registry.

Adapters depend on this package; the hub never imports an adapter directly.
"""
