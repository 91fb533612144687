"""Names and passwords (CHAT_AUTH=names): claiming a name, checking its password,
and slowing down anyone who guesses.

A password is hashed with Argon2id on gevent's thread pool (the hash releases
the GIL), so a login never stalls the hub. Each account has a *stamp* derived
from its password hash; sessions and tokens carry the stamp they were issued
under, so claiming a name (or changing its password) ends every older session.
"""

import hashlib

import gevent
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import LoginRefused
from ..delivery.rate_limits import TokenBuckets
from ..protocol.names import name_key

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# OWASP's recommended minimum for Argon2id: 19 MiB, 2 passes, 1 lane (tens of ms of one core).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def stamp_of(password_hash):
    """The stamp sessions and tokens carry: empty for an unclaimed name."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16] if password_hash else ""


def _off_hub(function, *args):
    return gevent.get_hub().threadpool.apply(function, args)


def _check_length(password):
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise LoginRefused(400, "weak_password", f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def _verify(password_hash, password):
    # Runs on the pool: a mismatch is an answer, not an error for the pool to report.
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _matches(password_hash, password):
    return _off_hub(_verify, password_hash, password)


class Accounts:
    """Log-ins by name, with an optional password, and the failed-attempt limits."""

    def __init__(self, store, attempts_per_minute, check_passwords=True):
        self.store = store
        self.check_passwords = check_passwords  # False in open mode: anyone is anyone
        # Failed attempts, counted per name and per address; when either runs dry
        # every attempt is refused until it refills, the right password included.
        self._failures = TokenBuckets(attempts_per_minute / 60.0, attempts_per_minute)

    def log_in(self, name, password, address):
        """Check `password` for `name`; return (display name, stamp) or raise LoginRefused.

        An unclaimed name needs no password; giving one claims the name.
        """
        if not self.check_passwords:
            return self.store.remember_user(name), ""
        keys = (("name", name_key(name)), ("address", address))
        wait = max(self._failures.wait(key) for key in keys)
        if wait:
            raise LoginRefused(429, "too_many_attempts", "too many failed log-ins; try again later", wait)
        current = self.store.password_hash(name)
        if current is None:
            if password:
                _check_length(password)  # before the name becomes known
            user = self.store.remember_user(name)
            return user, self.set_password(user, password) if password else ""
        user = self.store.display_name(name)
        if password and _matches(current, password):
            return user, stamp_of(current)
        for key in keys:
            self._failures.take(key)
        raise LoginRefused(401, "bad_password", f"{user} is claimed: the password is wrong or missing")

    def set_password(self, user, password, current_password=None):
        """Give `user` a password (claiming the name, or changing it); return the new stamp."""
        _check_length(password)
        old = self.store.password_hash(user)
        if old is not None and not (current_password and _matches(old, current_password)):
            self._failures.take(("name", name_key(user)))  # a guess like any other
            raise LoginRefused(403, "bad_password", "give current_password to change a password")
        new = _off_hub(_HASHER.hash, password)
        if not self.store.replace_password_hash(user, old, new):
            raise LoginRefused(409, "conflict", "the password changed meanwhile; log in again")
        return stamp_of(new)

    def stamp(self, user):
        """The current stamp of `user` (empty when the name is unclaimed)."""
        return stamp_of(self.store.password_hash(user))
