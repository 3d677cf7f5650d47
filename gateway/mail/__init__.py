"""Mail in: messages from submitters and units that work by mail become inbound events."""
