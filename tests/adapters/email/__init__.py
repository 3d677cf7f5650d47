"""Tests of the email adapter: reading mail (message, tags, commands) on a built corpus."""
