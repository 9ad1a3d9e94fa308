"""The HTTP API: a Litestar app factory and one controller per resource."""
