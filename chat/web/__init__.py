"""The Flask blueprints: the page, the HTTP API, sockets, event streams, operations."""
