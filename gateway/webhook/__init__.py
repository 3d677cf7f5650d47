"""Inbound webhooks: authenticity checks and turning events into canonical commands."""
