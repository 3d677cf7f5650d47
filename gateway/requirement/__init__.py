"""Requirements: a ticket's counter-ticket in a requirements queue (RT's, tagged), linked both
ways, its state followed at the hub."""
