"""The generic REST/webhook adapter: outbound calls shaped by a mapping file, signed webhooks in."""

from adapters.rest.adapter import RestAdapter
from adapters.rest.config import RestConfig
from adapters.rest.mapping import RestMapping

__all__ = ["RestAdapter", "RestConfig", "RestMapping"]
