"""Accounts and their sessions, as the stores keep them (SQLite and PostgreSQL alike).

An account is a row of `users`, keyed by the case fold of the name it holds. A guest
(no password) holds its name while one of its sessions is live; a session is a row of
`sessions`, so ending one works on every worker and host at once. Erasing an account
removes its direct messages, blanks what it sent to the group (a deleted stub, whose
sender key no account can hold) and its sessions: whoever takes the name next finds
nothing of the earlier account.

The operations run inside the group commit's transaction (one writer at a time on
either database), so checking a name and creating it cannot race another host.
"""

import secrets
import time

from ..errors import LoginRefused
from ..protocol.names import name_key
from ..protocol.unicode_security import new_name_problem, skeleton

# Sessions and tokens issued before sessions were stored (schema migration) carry no
# session id: each account got one row standing for all of them, which ends at the
# latest this long after the upgrade (the default CHAT_TOKEN_LIFETIME).
LEGACY_SESSION_SECONDS = 30 * 86400.0


def legacy_session_id(key):
    """The session row that stands for an account's credentials from before the upgrade."""
    return f"legacy:{key}"


LOOKS_LIKE = "looks like an existing name"


_MIGRATION = """
    ALTER TABLE users ADD COLUMN skeleton TEXT;
    ALTER TABLE users ADD COLUMN address TEXT;
    CREATE INDEX users_skeleton ON users (skeleton);
    CREATE INDEX users_address ON users (address, created) WHERE address IS NOT NULL;
    CREATE TABLE sessions (id TEXT PRIMARY KEY, key TEXT NOT NULL, expires {real} NOT NULL);
    CREATE INDEX sessions_key ON sessions (key)"""


def migrate_accounts(conn, param, real):
    """Give every account its name's skeleton and one session standing for the sessions
    and tokens issued before; inside the caller's transaction. `param` is the database's
    placeholder, `real` its type for times."""
    for statement in _MIGRATION.format(real=real).split(";"):
        conn.execute(statement)
    users = conn.execute("SELECT key, name FROM users").fetchall()
    until = time.time() + LEGACY_SESSION_SECONDS
    update = f"UPDATE users SET skeleton = {param} WHERE key = {param}"
    insert = f"INSERT INTO sessions (id, key, expires) VALUES ({param}, {param}, {param})"
    for key, name in users:
        conn.execute(update, (skeleton(name), key))
        conn.execute(insert, (legacy_session_id(key), key, until))


def _refused(reason):
    if reason == "too_many_accounts":
        return LoginRefused(429, "too_many_accounts", "too many new accounts from your network; try again later")
    return LoginRefused(400, "bad_name", f"that name {reason}")


class AccountStore:
    """The account operations of Store (mixed into it): names, sessions, erasure."""

    # -- accounts ---------------------------------------------------------

    def open_account(self, name, address=None, per_hour=None):
        """The display name of `name`'s account, created if there is none.

        A new name must pass the look-alike rules, and at most `per_hour` accounts are
        made from one `address` an hour. Raises LoginRefused (bad_name, too_many_accounts).
        """
        key = name_key(name)
        if key not in self._names:
            display, reason = self._write(self._open_account, self._new(key, name, address, per_hour))
            if display is None:
                raise _refused(reason)
            self._names[key] = display
        return self._names[key]

    def remember_user(self, name):
        """Record that `name` connected (making its account if need be); its display spelling."""
        return self.open_account(name)

    def log_in_guest(self, name, address, lifetime, per_hour):
        """Log in without a password: ("claimed", display) when the name has one;
        otherwise a new session, as ("session", display, session id, expiry, erased):
        `erased` when an expired guest gave the name up first. Raises LoginRefused
        when a live guest holds the name (name_taken) or the name is refused."""
        key = name_key(name)
        outcome = self._write(self._log_in_guest, self._new(key, name, address, per_hour),
                              _new_session_id(), time.time() + lifetime)
        if outcome[0] == "refused":
            raise _refused(outcome[1])
        if outcome[0] == "taken":
            raise LoginRefused(401, "name_taken", f"{outcome[1]} is in use: log in where you took it, and set a "
                                                  "password there to use it elsewhere")
        if outcome[0] == "session":
            self._names[key] = outcome[1]
        return outcome

    def erase_account(self, name):
        """Erase `name`'s account (see the module's docstring); True when there was one."""
        key = name_key(name)
        erased = self._write(self._erase, key, time.time())
        self.forget_name(name)
        return erased

    def forget_name(self, name):
        """Drop what this process remembers of `name` (its account was erased, here or elsewhere)."""
        self._names.pop(name_key(name), None)

    @staticmethod
    def _new(key, name, address, per_hour):
        # Computed on the hub, before the write: the writer thread only compares.
        return {"key": key, "name": name, "skeleton": skeleton(name), "problem": new_name_problem(name),
                "address": address, "per_hour": per_hour, "now": time.time()}

    # -- sessions ---------------------------------------------------------

    def start_session(self, name, lifetime):
        """A new session of `name`'s account: (session id, expiry as a Unix time)."""
        sid, expires = _new_session_id(), time.time() + lifetime
        self._write(self._start_session, name_key(name), sid, expires)
        return sid, expires

    def session_account(self, sid):
        """(display name, password hash) of the live session `sid`'s account, or None."""
        return self._timed_read(self._session_account, sid, time.time())

    def end_session(self, sid):
        """End session `sid`; the display name of a guest it left with none (now erased), else None."""
        erased = self._write(self._end_session, sid, time.time())
        if erased:
            self.forget_name(erased)
        return erased

    def end_sessions(self, name):
        """End every session of `name`'s account (a password was set or changed)."""
        self._write(self._end_sessions, name_key(name))

    # -- the operations, on a connection inside the commit's transaction --

    @classmethod
    def _one(cls, conn, sql, **params):
        return conn.execute(cls._sql(sql), params).fetchone()

    @classmethod
    def _run(cls, conn, sql, **params):
        return conn.execute(cls._sql(sql), params)

    @classmethod
    def _open_account(cls, conn, new):
        found = cls._one(conn, "SELECT name FROM users WHERE key = :key", key=new["key"])
        return (found[0], None) if found else cls._create(conn, new)

    @classmethod
    def _create(cls, conn, new):
        """Insert the account `new` describes: (display name, None), or (None, why not)."""
        if new["problem"]:
            return None, new["problem"]
        if cls._one(conn, "SELECT 1 FROM users WHERE skeleton = :skeleton", skeleton=new["skeleton"]):
            return None, LOOKS_LIKE
        if new["address"] and new["per_hour"] is not None:
            made = cls._one(conn, "SELECT count(*) FROM users WHERE address = :address AND created > :since",
                            address=new["address"], since=new["now"] - 3600)[0]
            if made >= new["per_hour"]:
                return None, "too_many_accounts"
        cls._run(conn, "INSERT INTO users (key, name, created, skeleton, address) "
                       "VALUES (:key, :name, :now, :skeleton, :address)", **{k: new[k] for k in
                                                                            ("key", "name", "now", "skeleton",
                                                                             "address")})
        return new["name"], None

    @classmethod
    def _log_in_guest(cls, conn, new, sid, expires):
        found = cls._one(conn, "SELECT name, password_hash FROM users WHERE key = :key", key=new["key"])
        erased = False
        if found is not None:
            if found[1]:
                return "claimed", found[0]
            if cls._live_sessions(conn, new["key"], new["now"]):
                return "taken", found[0]
            erased = cls._erase(conn, new["key"], new["now"])  # an expired guest: the name is free
        display, reason = cls._create(conn, new)
        if display is None:
            return "refused", reason
        cls._start_session(conn, new["key"], sid, expires)
        return "session", display, sid, expires, erased

    @classmethod
    def _live_sessions(cls, conn, key, now):
        return cls._one(conn, "SELECT 1 FROM sessions WHERE key = :key AND expires > :now", key=key, now=now)

    @classmethod
    def _erase(cls, conn, key, now):
        if not cls._one(conn, "SELECT 1 FROM users WHERE key = :key", key=key):
            return False
        # Stubs name a sender no account can have ('#' is never in a name).
        gone = f"#{key}#{now!r}"
        mine = "(from_key = :key OR to_key = :key) AND to_key IS NOT NULL AND room_key IS NULL"
        # The newest id stays in the log (PostgreSQL's last id is its max): blanked, for nobody.
        cls._run(conn, f"DELETE FROM messages WHERE {mine} AND id < (SELECT max(id) FROM messages)", key=key)
        cls._run(conn, f"UPDATE messages SET from_key = :gone, to_key = :gone, from_user = '', to_user = '', "
                       f"msg = '', cid = NULL WHERE {mine}", key=key, gone=gone)
        cls._run(conn, "UPDATE messages SET from_key = :gone, msg = '', cid = NULL "
                       "WHERE from_key = :key AND to_key IS NULL", key=key, gone=gone)
        # Its member events stay in their rooms' logs (ids never go back), naming nobody.
        cls._run(conn, "UPDATE messages SET from_key = CASE WHEN from_key = :key THEN :gone ELSE from_key END, "
                       "from_user = CASE WHEN from_key = :key THEN '' ELSE from_user END, "
                       "to_key = CASE WHEN to_key = :key THEN :gone ELSE to_key END, "
                       "to_user = CASE WHEN to_key = :key THEN '' ELSE to_user END "
                       "WHERE room_key IS NOT NULL AND kind = 'member' AND (from_key = :key OR to_key = :key)",
                 key=key, gone=gone)
        cls._run(conn, "DELETE FROM members WHERE user_key = :key", key=key)
        cls._erase_markers(conn, key)
        cls._run(conn, "DELETE FROM sessions WHERE key = :key", key=key)
        cls._run(conn, "DELETE FROM users WHERE key = :key", key=key)
        return True

    @classmethod
    def _start_session(cls, conn, key, sid, expires):
        cls._run(conn, "INSERT INTO sessions (id, key, expires) VALUES (:sid, :key, :expires)",
                 sid=sid, key=key, expires=expires)

    @classmethod
    def _session_account(cls, conn, sid, now):
        return cls._one(conn, "SELECT u.name, u.password_hash FROM sessions s JOIN users u ON u.key = s.key "
                              "WHERE s.id = :sid AND s.expires > :now", sid=sid, now=now)

    @classmethod
    def _end_session(cls, conn, sid, now):
        found = cls._one(conn, "SELECT u.key, u.name, u.password_hash FROM sessions s JOIN users u ON u.key = s.key "
                               "WHERE s.id = :sid", sid=sid)
        cls._run(conn, "DELETE FROM sessions WHERE id = :sid", sid=sid)
        if found is None or found[2] or cls._live_sessions(conn, found[0], now):
            return None
        cls._erase(conn, found[0], now)
        return found[1]

    @classmethod
    def _end_sessions(cls, conn, key):
        cls._run(conn, "DELETE FROM sessions WHERE key = :key", key=key)


def _new_session_id():
    return secrets.token_urlsafe(18)
