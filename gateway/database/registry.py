"""Import every table module so `Base.metadata` is complete (for migrations and tests)."""

from gateway.attachment import tables as _attachment  # noqa: F401
from gateway.auth import tables as _auth  # noqa: F401
from gateway.connection import tables as _connection  # noqa: F401
from gateway.database.base import Base
from gateway.digest import tables as _digest  # noqa: F401
from gateway.idempotency import tables as _idempotency  # noqa: F401
from gateway.instance import tables as _instance  # noqa: F401
from gateway.mail import tables as _mail  # noqa: F401
from gateway.metrics import tables as _metrics  # noqa: F401
from gateway.process import tables as _process  # noqa: F401
from gateway.release import tables as _release  # noqa: F401
from gateway.scheduler import tables as _scheduler  # noqa: F401
from gateway.support_unit import tables as _support_unit  # noqa: F401
from gateway.sync import tables as _sync  # noqa: F401
from gateway.ticket import tables as _ticket  # noqa: F401

metadata = Base.metadata
