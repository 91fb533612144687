"""Names and passwords (CHAT_AUTH=names): claiming a name, checking its password,
and slowing down anyone who guesses.

A password is hashed with Argon2id on gevent's thread pool (the hash releases
the GIL), so a login never stalls the hub; at most HASHES_AT_ONCE at a time, since
each takes 19 MiB that the allocator does not give back: a flood of log-ins waits
its turn (or is told to come back), and memory stays bounded. Setting or changing
a password ends every other session of the account.
"""

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from gevent.lock import BoundedSemaphore
from gevent.threadpool import ThreadPool

from ..delivery.rate_limits import TokenBuckets
from ..errors import LoginRefused
from ..protocol.names import name_key
from ..storage.accounts import legacy_session_id

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# OWASP's recommended minimum for Argon2id: 19 MiB, 2 passes, 1 lane (tens of ms of one core).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


HASHES_AT_ONCE = 2
HASH_QUEUE_SECONDS = 5.0  # a log-in waits this long for its turn, then is refused 429
_HASHING = BoundedSemaphore(HASHES_AT_ONCE)
# Threads of their own: each thread's malloc arena keeps the 19 MiB it hashed with, so
# hashes spread over the hub's whole pool would pin that much in every one of its threads.
_hash_threads = []


def stamp_of(password_hash):
    """The stamp that credentials from before stored sessions carry: empty for an unclaimed name."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16] if password_hash else ""


def _off_hub(function, *args):
    if not _HASHING.acquire(timeout=HASH_QUEUE_SECONDS):
        raise LoginRefused(429, "busy", "too many log-ins at once; try again shortly", 1)
    try:
        if not _hash_threads:
            _hash_threads.append(ThreadPool(HASHES_AT_ONCE))  # made on first use: after gunicorn's fork
        return _hash_threads[0].apply(function, args)
    finally:
        _HASHING.release()


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
    """Log-ins by name, with an optional password; the failed-attempt limits; sessions
    that end (names mode: each a row of the store, see storage/accounts.py)."""

    def __init__(self, store, settings, accounts_per_hour_for=lambda address: None):
        self.store = store
        self.settings = settings
        self.check_passwords = settings.auth == "names"  # open mode: anyone is anyone
        self._per_hour = accounts_per_hour_for  # an address's limit on new accounts (None: none)
        self.on_erased = lambda user: None  # the runtime tells every worker and host
        self.on_logged_out = lambda user, sid: None  # likewise, to close the session's sockets
        # Failed attempts, counted per name and per address; when either runs dry
        # every attempt is refused until it refills, the right password included.
        per_minute = settings.login_attempts_per_minute
        self._failures = TokenBuckets(per_minute / 60.0, per_minute)

    def log_in(self, name, password, address):
        """Check `password` for `name`; return (display name, session id or None) or raise
        LoginRefused. A free name needs no password (a guest holds it while a session
        lasts); giving one claims the name."""
        if not self.check_passwords:
            return self.store.open_account(name, address, self._per_hour(address)), None
        keys = (("name", name_key(name)), ("address", address))
        wait = max(self._failures.wait(key) for key in keys)
        if wait:
            raise LoginRefused(429, "too_many_attempts", "too many failed log-ins; try again later", wait)
        if password and self.store.password_hash(name) is None:
            _check_length(password)  # a claim: before the name becomes anyone's
        outcome = self.store.log_in_guest(name, address, self.settings.token_lifetime, self._per_hour(address))
        if outcome[0] == "session":
            user, sid, erased = outcome[1], outcome[2], outcome[4]
            if erased:
                self.on_erased(user)
            return user, (self.set_password(user, password, None) if password else sid)
        user = outcome[1]
        current = self.store.password_hash(user)
        if password and current and _matches(current, password):
            return user, self.store.start_session(user, self.settings.token_lifetime)[0]
        for key in keys:
            self._failures.take(key)
        raise LoginRefused(401, "bad_password", f"{user} is claimed: the password is wrong or missing")

    def set_password(self, user, password, current_password):
        """Give `user` a password (claiming the name, or changing it): every session of
        the account ends. Returns a new session's id, for the browser or client that asked."""
        _check_length(password)
        old = self.store.password_hash(user)
        self._check_password(user, old, current_password, "give current_password to change a password")
        new = _off_hub(_HASHER.hash, password)
        if not self.store.replace_password_hash(user, old, new):
            raise LoginRefused(409, "conflict", "the password changed meanwhile; log in again")
        self.store.end_sessions(user)
        return self.store.start_session(user, self.settings.token_lifetime)[0]

    def delete(self, user, password):
        """Erase `user`'s account (DELETE /api/account): its password, when it has one, first."""
        self._check_password(user, self.store.password_hash(user), password, "give the account's password")
        self.erase(user)

    def erase(self, user):
        """Erase `user`'s account, with no question asked (the operator's command); True when found."""
        erased = self.store.erase_account(user)
        self.on_erased(user)
        return erased

    def log_out(self, user, sid):
        """End `user`'s session `sid` and close its sockets; a guest left with no session
        is erased (its name is free)."""
        erased = self.store.end_session(sid)
        if erased:
            self.on_erased(erased)
        else:
            self.on_logged_out(user, sid)

    def _check_password(self, user, password_hash, given, detail):
        if password_hash is not None and not (isinstance(given, str) and given and _matches(password_hash, given)):
            self._failures.take(("name", name_key(user)))  # a guess like any other
            raise LoginRefused(403, "bad_password", detail)

    def current(self, user, sid, stamp):
        """The display name when the credential (user, session id, stamp) is live, else None.

        Credentials from before sessions were stored carry no session id: they stand
        on the account's legacy session and, for a claimed name, its password's stamp.
        """
        found = self.store.session_account(sid or legacy_session_id(name_key(user)))
        if found is None or name_key(found[0]) != name_key(user):
            return None
        if sid is None and stamp_of(found[1]) != stamp:
            return None
        return found[0]
