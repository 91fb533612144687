"""`flask --app wsgi chat ...`: operator commands."""

import sys

import click
from flask.cli import AppGroup

from ..protocol.names import NAME_RULE, normalize_name
from ..protocol.server_frames import utc_timestamp

cli = AppGroup("chat", help="Chat server commands.")


@cli.command("token")
@click.argument("name")
def token(name):
    """Print a signed token for NAME (what CHAT_AUTH=token accepts)."""
    from .helpers import runtime  # pylint: disable=import-outside-toplevel
    user = normalize_name(name)
    if user is None:
        sys.exit(f"chat: {name!r} is not a username: {NAME_RULE}")
    signed, expires = runtime().tokens.issue(user)
    print(signed)
    print(f"user {user}, expires {utc_timestamp(expires)}", file=sys.stderr)
