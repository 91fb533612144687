"""Who is asking: the secret key, session cookies, tokens and the handshake checks."""

import os
import secrets
import time

from flask import request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from . import protocol
from .errors import SettingsError

SECRET_FILE = "secret_key"
TOKEN_SALT = "chat-token-v1"


def load_secret_key(settings):
    """CHAT_SECRET_KEY, or a key generated once and kept (mode 0600) in CHAT_DATA_DIR."""
    if settings.secret_key:
        return settings.secret_key
    path = os.path.join(settings.data_dir, SECRET_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SettingsError(f"CHAT_DATA_DIR: cannot create {path}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    try:
        with open(path, encoding="ascii") as key_file:
            key = key_file.read().strip()
    except OSError as exc:
        raise SettingsError(f"CHAT_DATA_DIR: cannot read {path}: {exc.strerror}") from None
    if len(key) < 32:
        raise SettingsError(f"CHAT_DATA_DIR: {path} holds no usable key; delete it to make a new one")
    return key


class Tokens:
    """Signed, expiring tokens naming one user (format in the README)."""

    def __init__(self, secret_key, lifetime):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)
        self.lifetime = lifetime

    def issue(self, name, stamp=""):
        """Return (token, expiry as a Unix time) for `name` under the account `stamp`."""
        payload = {"u": name, "s": stamp} if stamp else {"u": name}
        return self._serializer.dumps(payload), time.time() + self.lifetime

    def verify(self, token):
        """(user, stamp) of a valid, unexpired token, or None."""
        try:
            data = self._serializer.loads(token, max_age=self.lifetime)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict):
            return None
        name, stamp = protocol.normalize_name(data.get("u")), data.get("s", "")
        return (name, stamp) if name and isinstance(stamp, str) else None


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, marked Secure whenever the request came over https."""

    _signer = None  # (keys, serializer)

    def get_cookie_secure(self, app):
        """Secure when this request came over https (directly or through a trusted proxy)."""
        return request.is_secure

    def get_signing_serializer(self, app):
        """Flask's serializer, built once per set of keys."""
        # Flask builds a serializer per request, and building one encodes a test value:
        # a tenth of the cost of a socket's handshake. The keys rarely change; reuse it.
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


def check_opening(username, chat):
    """Check a socket or event-stream handshake for the URL's `username`.

    Returns (the normalised name, None), or (None, (status, code, detail)) when refused.
    """
    name = protocol.normalize_name(username)
    if name is None:
        return None, (400, "bad_name", "a username is 1-32 letters, digits, '_', '-' or '.'")
    refusal = _refusal(name, chat)
    return (None, refusal) if refusal else (name, None)


def _refusal(username, chat):
    if not origin_allowed(request.environ, chat.settings.allowed_origins):
        return 403, "bad_origin", "this Origin may not open connections here"
    if chat.settings.auth == "open":
        return None
    proven = current_user(chat)
    if proven is None:
        return 401, "unauthenticated", "log in first, or pass ?token="
    if protocol.name_key(proven) != protocol.name_key(username):
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
