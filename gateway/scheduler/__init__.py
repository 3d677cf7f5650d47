"""Periodic jobs, run once per due time across every gateway process."""
