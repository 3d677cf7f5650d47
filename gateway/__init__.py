"""The ticket gateway hub: one canonical ticket, many helpdesk systems kept in sync."""

__version__ = "0.1.0"
