"""`python -m chat.storage.upgrade`: bring the store's schema up to this server's, alone.

gunicorn's master runs it before it starts a worker (gunicorn.conf.py). A store that
cannot be used then stops gunicorn with one message naming the setting: a worker failing
on it would exit, be booted again by the master, and fail again, for ever. And an upgrade
runs once, before any worker, not in every worker at once waiting on each other's locks.
A SQLite database that is not there yet is left to the first worker: a new file has
nothing to migrate.
"""

import os

from ..errors import SettingsError, refuse_start
from ..settings import from_environ
from .opening import open_store


def upgrade(settings):
    """Open the store of `settings` (which migrates it, and indexes a SQLite mailbox) and
    close it; SettingsError when unusable."""
    if settings.postgresql or os.path.exists(settings.database_path):
        open_store(settings).close()


def main():
    """Upgrade the store of the CHAT_* environment; exit 1 naming the setting when it cannot."""
    try:
        upgrade(from_environ())
    except SettingsError as exc:
        refuse_start(exc)


if __name__ == "__main__":
    main()
