"""What every message store offers: the Store base class, and the queries the stores share.

A store subclass supplies `_read(operation, *args)`, `_run_batch(batch)` and the
database operations as static methods taking a connection first; this class
turns them into the public API the router and the views use.
"""

import time
from abc import ABC, abstractmethod

import gevent

from .. import metrics
from ..errors import StoreUnavailable
from ..protocol.names import name_key
from ..protocol.server_frames import Message
from .accounts import AccountStore
from .changes import ChangeStore
from .group_commit import GroupCommit
from .markers import MarkerStore
from .people import PeopleStore
from .queries import COLUMNS, GROUP, MESSAGES_ONLY, PAIR, ROOM_MESSAGES, VISIBLE
from .rooms import RoomStore


class Store(AccountStore, RoomStore, ChangeStore, MarkerStore, PeopleStore, ABC):
    """Users, rooms and messages. Subclasses: SqliteStore (one host), PostgresStore (many).

    A subclass that lacks one of the abstract operations below cannot be built.
    """

    def __init__(self):
        self._commits = GroupCommit(self._run_batch)
        # Greetings come in crowds (a restart, a deploy): their reads share trips to the pool.
        self._greetings = GroupCommit(lambda batch: self._read(_run_reads, batch), "read")
        self._names = {}  # name key -> display name, until the account is erased (forget_name)

    @abstractmethod
    def _run_batch(self, batch):
        """Run [(operation, args), ...] in one transaction; one outcome per entry."""

    @abstractmethod
    def _read(self, operation, *args):
        """Run `operation(conn, *args)` on a reading connection, off the hub; its result."""

    @abstractmethod
    def _close(self):
        """Close every connection to the database."""

    def _timed_read(self, operation, *args):
        started = time.perf_counter()
        try:
            return self._read(operation, *args)
        finally:
            metrics.STORE_SECONDS.labels("read").observe(time.perf_counter() - started)

    def _write(self, operation, *args):
        return self._commits.submit(operation, *args).get()

    # -- users ------------------------------------------------------------

    def display_name(self, name):
        """The display spelling of a known user, or None for a name never stored."""
        key = name_key(name)
        if key not in self._names:
            found = self._timed_read(self._find_user, key)
            if found is None:
                return None
            self._names[key] = found
        return self._names[key]

    def knows(self, name):
        """True when display_name(name) answers without reading the database (None: the group)."""
        return name is None or name_key(name) in self._names

    def password_hash(self, name):
        """The stored password hash of `name`, or None when the name is unclaimed."""
        return self._timed_read(self._password_hash, name_key(name))

    def replace_password_hash(self, name, old, new):
        """Set the password hash of `name` to `new` if it is still `old`; True when set."""
        return self._write(self._replace_password_hash, name_key(name), old, new)

    # -- messages ---------------------------------------------------------

    def add_message(self, from_user, to_user, msg, cid=None, room=None):  # pylint: disable=too-many-arguments
        """Store a message durably; return (message, created). A repeated cid returns the original."""
        return self.queue_message(from_user, to_user, msg, cid, room=room).get()

    def queue_message(self, from_user, to_user, msg, cid=None, outcome=None, room=None):  # pylint: disable=too-many-arguments
        """Queue a message (to `to_user`, to `room`, or else to the group) for the next
        commit without waiting; (message, created) goes to `outcome` (see
        GroupCommit.submit), by default a new AsyncResult, which is returned.

        Messages queued one after another get ids in that order.
        """
        return self._commits.submit(self._insert_message, from_user, to_user, msg, cid, time.time(), room,
                                    outcome=outcome)

    def snapshot(self, user, since, limit):
        """(last_id, messages, truncated) read in one transaction, for a connection's backlog.

        With `since`: visible messages after it, the newest `limit` of them. Without: the
        last `limit` visible. Oldest first. Every message with an id up to last_id is
        committed: ids are handed out in commit order.
        """
        return self._greetings.submit(self._snapshot, name_key(user), since, limit).get()

    def last_id(self):
        """The newest stored id (0 for none)."""
        return self._timed_read(self._last_id)

    def after(self, last_id, limit):
        """Up to `limit` messages with id > last_id, oldest first, each as (message, cid).

        Ids come in commit order, so this is a gapless tail of the log: the router
        delivers from it, on every worker, whatever the broker lost.
        """
        return self._timed_read(self._after, last_id, limit)

    def history(self, user, other, before, limit, room=None):  # pylint: disable=too-many-arguments
        """The newest `limit` messages with id < before of one conversation, oldest first:
        the room `room`, else the direct one with `other`, else (`other` None) the group.
        Whether `user` may read the room is the caller's to check."""
        other_key = name_key(other) if other is not None else None
        room_key = name_key(room) if room is not None else None
        return self._timed_read(self._history, name_key(user), other_key, before, limit, room_key)

    def prune(self, older_than):
        """Delete messages stored before the Unix time `older_than`; return how many."""
        return self._write(self._prune, older_than)

    def close(self, timeout=5.0):
        """Let the commits under way finish (up to `timeout` seconds), then close the database."""
        deadline = time.monotonic() + timeout
        while self._commits.busy and time.monotonic() < deadline:
            gevent.sleep(0.01)
        self._close()

    def ping(self):
        """Raise StoreUnavailable unless the database answers a query."""
        try:
            self._read(self._ping)
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"the database does not answer: {exc}") from exc

    # The operations, each (conn, *args) -> result, are static methods of the subclass,
    # or class methods here where only the placeholder style differs.

    @staticmethod
    @abstractmethod
    def _replace_password_hash(conn, key, old, new):
        """Set the hash to `new` if it is still `old`; True when set."""

    @staticmethod
    @abstractmethod
    def _insert_message(conn, from_user, to_user, msg, cid, ts, room):  # pylint: disable=too-many-arguments
        """Insert a message; (Message, created), the original when the cid was stored before."""

    @staticmethod
    @abstractmethod
    def _snapshot(conn, me, since, limit):
        """(last_id, messages, truncated) in one transaction (see snapshot)."""

    @staticmethod
    @abstractmethod
    def _last_id(conn):
        """The newest id ever stored (0 for none)."""

    @staticmethod
    @abstractmethod
    def _prune(conn, older_than):
        """Delete the messages stored before `older_than`; how many."""

    @staticmethod
    @abstractmethod
    def _ping(conn):
        """A trivial query."""

    @staticmethod
    def _sql(text):
        """`text` with its :name placeholders in this database's style."""
        return text

    @classmethod
    def _find_user(cls, conn, key):
        row = conn.execute(cls._sql("SELECT name FROM users WHERE key = :key"), {"key": key}).fetchone()
        return row[0] if row else None

    @classmethod
    def _password_hash(cls, conn, key):
        row = conn.execute(cls._sql("SELECT password_hash FROM users WHERE key = :key"), {"key": key}).fetchone()
        return row[0] if row else None

    @classmethod
    def _visible(cls, conn, me, since, limit):
        """Up to `limit` + 1 messages visible to `me` after `since`, newest first."""
        return conn.execute(cls._sql(f"SELECT {COLUMNS} FROM messages WHERE id > :since AND {VISIBLE} "
                                     "ORDER BY id DESC LIMIT :n"),
                            {"me": me, "since": since or 0, "n": limit + 1}).fetchall()

    @classmethod
    def _after(cls, conn, last_id, limit):
        rows = conn.execute(cls._sql(f"SELECT {COLUMNS}, cid FROM messages WHERE id > :last ORDER BY id LIMIT :n"),
                            {"last": last_id, "n": limit}).fetchall()
        return [(Message(*row[:9]), row[9]) for row in rows]

    @classmethod
    def _history(cls, conn, me, other, before, limit, room=None):  # pylint: disable=too-many-arguments
        where = ROOM_MESSAGES if room is not None else f"{GROUP if other is None else PAIR} AND {MESSAGES_ONLY}"
        rows = conn.execute(
            cls._sql(f"SELECT {COLUMNS} FROM messages WHERE id < :before AND {where} ORDER BY id DESC LIMIT :n"),
            {"me": me, "other": other, "room": room, "before": before, "n": limit}).fetchall()
        return [Message(*row) for row in reversed(rows)]


def _run_reads(conn, batch):
    """Run a batch of reads one after another on one connection."""
    return [operation(conn, *args) for operation, args in batch]


def page(rows, limit):
    """(messages oldest first, truncated) from `_visible`'s newest-first rows."""
    return [Message(*row) for row in reversed(rows[:limit])], len(rows) > limit
