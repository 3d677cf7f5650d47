"""Helpers shared by tests: canonical tickets, a reference helpdesk, loopback servers."""
