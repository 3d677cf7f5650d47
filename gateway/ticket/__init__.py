"""The canonical ticket: its fields, journal, links, ETA revisions and change history."""
