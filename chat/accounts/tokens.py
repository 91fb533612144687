"""Signed, expiring tokens, and the secret key that signs them and the session cookies."""

import os
import secrets
import time

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import SettingsError
from ..protocol.names import normalize_name


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
    """Signed, expiring tokens naming one user (format in docs/api.md)."""

    def __init__(self, secret_key, lifetime):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)
        self.lifetime = lifetime

    def issue(self, name, sid=None):
        """Return (token, expiry as a Unix time) for `name`, standing on session `sid` (names mode)."""
        payload = {"u": name, "i": sid} if sid else {"u": name}
        return self._serializer.dumps(payload), time.time() + self.lifetime

    def verify(self, token):
        """(user, session id or None, stamp) of a valid, unexpired token, or None.

        Tokens from before stored sessions carry a stamp ("s") instead of a session id.
        """
        try:
            data = self._serializer.loads(token, max_age=self.lifetime)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict):
            return None
        name, sid, stamp = normalize_name(data.get("u")), data.get("i"), data.get("s", "")
        if not name or not isinstance(stamp, str) or not isinstance(sid, (str, type(None))):
            return None
        return name, sid, stamp
