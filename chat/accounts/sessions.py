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


def start_session(user, sid):
    """Log the browser in as `user` on session `sid` (a fresh cookie: no fixation),
    expiring with it (PERMANENT_SESSION_LIFETIME is CHAT_TOKEN_LIFETIME)."""
    session.clear()
    session.permanent = True
    session["user"] = user
    if sid:
        session["sid"] = sid


def password_changed(chat, user, sid):
    """Close `user`'s sockets everywhere (their other sessions ended); this browser goes on under `sid`."""
    chat.router.sign_out(user)
    if session.get("user") == user:
        start_session(user, sid)


def end_session(chat):
    """Log the browser out, ending its session on the server (every worker and host)."""
    user, sid = session.get("user"), session.get("sid")
    session.clear()
    if sid and chat.settings.auth == "names":
        chat.accounts.log_out(user, sid)


def _claim(tokens, mode):
    """(user, session id, stamp) from a session cookie (not in token mode), Bearer or ?token=."""
    if mode != "token" and session.get("user"):
        return session["user"], session.get("sid"), session.get("stamp", "")
    token = request.args.get("token")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[len("Bearer "):].strip()
    return tokens.verify(token) if token else None


def current_user(chat):
    """The user the current request proves to be, or None.

    In names mode the session the cookie or token stands on must be live in the store:
    logging out, setting a password and erasing an account end sessions there.
    """
    if "chat.user" in request.environ:  # asked once per request
        return request.environ["chat.user"]
    claim = _claim(chat.tokens, chat.settings.auth)
    user = None
    if claim is not None:
        user = chat.accounts.current(*claim) if chat.settings.auth == "names" else claim[0]
    request.environ["chat.user"] = user
    request.environ["chat.session"] = claim[1] if user is not None else None
    return user


def current_session():
    """The session id the current request stands on (after current_user); None for none."""
    return request.environ.get("chat.session")
