"""The HTTP API: app factory, middleware, error handlers and shared dependencies."""
