"""Routing and assignment: which unit a ticket goes to, and who may hand it to whom."""
