"""The store the settings name, opened: created or migrated, ready to serve."""

from .sqlite.store import SqliteStore


def open_store(settings):
    """The PostgreSQL store of CHAT_DATABASE_URL, else the SQLite one; SettingsError when unusable."""
    if settings.postgresql:
        from .postgres import PostgresStore  # pylint: disable=import-outside-toplevel  (psycopg when used)
        return PostgresStore(settings.database_url)
    return SqliteStore(settings.database_path)
