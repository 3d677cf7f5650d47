"""The one inbound service: webhooks, polls and mail become events, applied once each."""
