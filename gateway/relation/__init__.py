"""Ticket relations: parent/child, master/slave, duplicate-of, and one report to many sites."""
