"""Where the client keeps the server address and its token: a small JSON file, mode 0600.

CHAT_CLIENT_CONFIG names it; by default ~/.config/chat-client.json.
"""

import json
import os
import urllib.parse

from .errors import ClientError


def _config_path():
    return os.environ.get("CHAT_CLIENT_CONFIG") or os.path.expanduser("~/.config/chat-client.json")


def load_config():
    """The saved server, user and token; ClientError when nobody logged in."""
    try:
        with open(_config_path(), encoding="utf-8") as config:
            return json.load(config)
    except FileNotFoundError:
        raise ClientError("not logged in: run `python -m chat.client login NAME` first") from None


def save_config(config):
    """Keep the token where only this user can read it."""
    path = _config_path()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config, out)


def server_url(text):
    """The server's URL from the command line: http:// is added to host or host:port;
    any other scheme than http and https is refused."""
    url = text.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"{text!r} is not a chat server's URL: write http://host:port or https://host")
    try:
        parts.port  # pylint: disable=pointless-statement  (raises for a port that is no number)
    except ValueError:
        raise ClientError(f"{text!r} is not a chat server's URL: its port is not a number") from None
    return url.rstrip("/")
