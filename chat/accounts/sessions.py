"""Who the current request is: the signed session cookie, or a Bearer or ?token= token."""

from flask import request, session
from flask.sessions import SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, marked Secure whenever the request came over https."""

    _signer = None  # (keys, serializer)

    def get_cookie_secure(self, app):
        """Secure when this request came over https (directly or through a trusted proxy)."""
        return request.is_secure

    def get_signing_serializer(self, app):
        """Flask's serializer, built once per set of keys."""
        # Flask builds a serializer per request, and building one encodes a test value:
        # a real share of a socket's handshake. The keys rarely change; reuse it.
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._signer is None or self._signer[0] != keys:
            self._signer = (keys, super().get_signing_serializer(app))
        return self._signer[1]


def start_session(user, stamp):
    """Log the browser in as `user` (a fresh session: no fixation)."""
    session.clear()
    session["user"] = user
    session["stamp"] = stamp


def password_changed(chat, user, stamp):
    """End `user`'s other sessions and sockets; keep this browser logged in under `stamp`."""
    chat.router.sign_out(user)
    if session.get("user") == user:
        start_session(user, stamp)


def end_session():
    """Log the browser out."""
    session.clear()


def _claim(tokens, mode):
    """(user, stamp) from a session cookie (not in token mode), Bearer or ?token=."""
    if mode != "token" and session.get("user"):
        return session["user"], session.get("stamp", "")
    token = request.args.get("token")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[len("Bearer "):].strip()
    return tokens.verify(token) if token else None


def current_user(chat):
    """The user the current request proves to be, or None.

    In names mode the session or token must carry the account's current stamp:
    claiming a name or changing its password ends older sessions and tokens.
    """
    claim = _claim(chat.tokens, chat.settings.auth)
    if claim is None:
        return None
    user, stamp = claim
    if chat.settings.auth == "names" and chat.accounts.stamp(user) != stamp:
        return None
    return user
