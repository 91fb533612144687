"""The checks before a socket or an event stream opens: the name, the Origin, the identity."""

from flask import request

from ..errors import LoginRefused
from ..protocol.names import NAME_RULE, name_key, normalize_name
from .sessions import current_user


def check_opening(username, chat):
    """Check a socket or event-stream handshake for the URL's `username`.

    Returns (the normalised name, None), or (None, (status, code, detail)) when refused.
    """
    name = normalize_name(username)
    if name is None:
        return None, (400, "bad_name", f"a username is {NAME_RULE}")
    refusal = _refusal(name, chat)
    if refusal:
        return None, refusal
    try:
        return chat.store.remember_user(name), None  # open and token modes make accounts here
    except LoginRefused as exc:
        return None, (exc.status, exc.code, exc.detail)


def _refusal(username, chat):
    if not origin_allowed(request.environ, chat.settings.allowed_origins):
        return 403, "bad_origin", "this Origin may not open connections here"
    if chat.settings.auth == "open":
        return None
    proven = current_user(chat)
    if proven is None:
        return 401, "unauthenticated", "log in first, or pass ?token="
    if name_key(proven) != name_key(username):
        return 403, "forbidden", "you are logged in as someone else"
    return None


def origin_allowed(environ, extra_origins):
    """True when Origin is absent, the server's own origin, or one of `extra_origins`."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}".lower()
    return origin == own or origin in (o.lower() for o in extra_origins)
