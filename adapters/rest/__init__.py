"""The generic REST/webhook adapter: outbound calls shaped by a mapping file, signed webhooks in.

`RestConfig` and `RestMapping` are exported so the hub can publish their JSON Schemas.
"""

from adapters.rest.adapter import RestAdapter
from adapters.rest.config import RestConfig
from adapters.rest.mapping import RestMapping, load_mapping

__all__ = ["RestAdapter", "RestConfig", "RestMapping", "load_mapping"]
