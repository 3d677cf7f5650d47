"""The sync engine's write side: the sync policy and the transactional outbox."""
