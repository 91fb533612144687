"""`flask --app wsgi chat ...`: operator commands."""

import sys

import click
from flask.cli import AppGroup

from ..errors import LoginRefused
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


def _refused_or(make):
    try:
        return make()
    except LoginRefused as exc:
        sys.exit(f"chat: {exc.detail}")
