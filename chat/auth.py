"""Who is asking: the secret key, session cookies, tokens and the handshake checks."""

import os
import secrets
import time

from flask import request, session
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

    def issue(self, name):
        """Return (token, expiry as a Unix time) for `name`."""
        return self._serializer.dumps({"u": name}), time.time() + self.lifetime

    def verify(self, token):
        """The user a valid, unexpired token names, or None."""
        try:
            data = self._serializer.loads(token, max_age=self.lifetime)
        except (BadSignature, SignatureExpired):
            return None
        name = data.get("u") if isinstance(data, dict) else None
        return protocol.normalize_name(name)


def current_user(tokens, mode):
    """The user the current request proves to be, or None.

    A session cookie (not in token mode), `Authorization: Bearer`, or `?token=`.
    """
    if mode != "token" and session.get("user"):
        return session["user"]
    token = request.args.get("token")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[len("Bearer "):].strip()
    return tokens.verify(token) if token else None


def handshake_refusal(username, tokens, settings):
    """Why a socket handshake for `username` is refused: (status, code, detail), or None."""
    if not origin_allowed(request.environ, settings.allowed_origins):
        return 403, "bad_origin", "this Origin may not open sockets here"
    if settings.auth == "open":
        return None
    proven = current_user(tokens, settings.auth)
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
