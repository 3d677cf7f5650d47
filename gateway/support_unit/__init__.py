"""Support units: the teams that can be responsible for a ticket."""
