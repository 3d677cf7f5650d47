"""Who may add which attachments; who may read a ticket's files is the ticket's rule
(`gateway.ticket.access.visible`) plus the journal's: internal files only for support staff."""

from __future__ import annotations

from gateway.auth.models import Caller
from gateway.errors import Forbidden
from gateway.ticket.enums import Visibility


def check_upload(caller: Caller, visibility: Visibility | None) -> None:
    """Submitters add public files only, as they write public entries only."""
    if visibility == Visibility.INTERNAL and not caller.sees_internal:
        raise Forbidden("a submitter key may not add internal attachments")
