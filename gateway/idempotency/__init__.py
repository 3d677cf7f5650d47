"""Idempotency keys: a retried create returns the first answer instead of a second ticket."""
