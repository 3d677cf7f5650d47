"""Live gateway instances: who is running, who holds what, and taking over from the dead."""
