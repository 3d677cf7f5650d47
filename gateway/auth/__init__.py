"""API keys and who may see or change what."""
