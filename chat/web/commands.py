"""`flask --app wsgi chat ...`: operator commands."""

import sqlite3
import sys

import click
from flask.cli import AppGroup

from ..errors import LoginRefused
from ..protocol.names import NAME_RULE, normalize_name
from ..protocol.server_frames import utc_timestamp
from ..storage.sqlite.backup import copy_database

cli = AppGroup("chat", help="Chat server commands.")


@cli.command("token")
@click.argument("name")
def token(name):
    """Print a signed token for NAME (what CHAT_AUTH=token accepts)."""
    from .helpers import runtime  # pylint: disable=import-outside-toplevel
    user = normalize_name(name)
    if user is None:
        sys.exit(f"chat: {name!r} is not a username: {NAME_RULE}")
    chat = runtime()
    sid = None
    if chat.settings.auth == "names":  # a token there stands on a session of the account
        user = _refused_or(lambda: chat.store.open_account(user))
        sid = chat.store.start_session(user, chat.settings.token_lifetime)[0]
    signed, expires = chat.tokens.issue(user, sid)
    print(signed)
    print(f"user {user}, expires {utc_timestamp(expires)}", file=sys.stderr)


@cli.command("delete-account")
@click.argument("name")
def delete_account(name):
    """Erase NAME's account: its direct messages, its group messages' text, its sessions."""
    from .helpers import runtime  # pylint: disable=import-outside-toplevel
    user = normalize_name(name)
    if user is None or not runtime().accounts.erase(user):
        sys.exit(f"chat: no account is called {name!r}")
    print(f"deleted {user}", file=sys.stderr)


@cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup(path):
    """Copy the SQLite database to PATH, a new file (mode 0600), while the server runs."""
    from .helpers import runtime  # pylint: disable=import-outside-toplevel
    settings = runtime().settings
    if settings.postgresql:
        sys.exit("chat: the store is PostgreSQL (CHAT_DATABASE_URL): back it up with pg_dump")
    try:
        copy_database(settings.database_path, path)
    except FileExistsError:
        sys.exit(f"chat: {path} exists: name a new file")
    except (OSError, sqlite3.Error) as exc:
        sys.exit(f"chat: cannot back up {settings.database_path} to {path}: {exc}")
    print(f"backed up {settings.database_path} to {path}", file=sys.stderr)


def _refused_or(make):
    try:
        return make()
    except LoginRefused as exc:
        sys.exit(f"chat: {exc.detail}")
