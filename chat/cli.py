"""`flask --app wsgi chat ...`: operator commands."""

import sys

import click
from flask.cli import AppGroup

from . import protocol

cli = AppGroup("chat", help="Chat server commands.")


@cli.command("token")
@click.argument("name")
def token(name):
    """Print a signed token for NAME (what CHAT_AUTH=token accepts)."""
    from .api import services  # pylint: disable=import-outside-toplevel
    user = protocol.normalize_name(name)
    if user is None:
        sys.exit(f"chat: {name!r} is not a username: 1-32 letters, digits, '_', '-' or '.'")
    signed, expires = services().tokens.issue(user)
    print(signed)
    print(f"user {user}, expires {protocol.utc_timestamp(expires)}", file=sys.stderr)
