"""The sync engine's delivery side: claim outbox rows, push them, record results."""
