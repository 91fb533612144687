"""The SQLite store: one host, every worker of it."""
