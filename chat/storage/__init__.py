"""Where messages and users live: the store interface, group commit, SQLite, PostgreSQL, retention."""
