"""The email adapter: tickets mailed to people and units, their replies read back as entries."""
