"""The configuration file: support units, routing rules and (later) connections."""
