"""Release announcements: a fix released solves the tickets waiting on hold for it."""
