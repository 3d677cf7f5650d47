"""The support process: working time, reminders, automatic closing, response-time targets."""
