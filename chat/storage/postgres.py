"""The PostgreSQL message store, for several workers and hosts (psycopg 3).

psycopg 3 waits cooperatively under gevent's monkey patching, so queries run on
greenlets. Writes share the group commit of `store.Store`. Each write transaction
takes one advisory lock first, so ids are handed out in commit order on every
host: a reader that sees id N has every smaller id committed, which the backlog
(`since`) and the drop-what-the-backlog-covered rule of the router depend on.
"""

import functools
import logging
import re

import gevent
import psycopg
from gevent.queue import Queue

from ..errors import SettingsError, StoreUnavailable
from ..protocol.names import name_key
from ..protocol.server_frames import Message
from .accounts import migrate_accounts
from .changes import migrate_changes
from .markers import migrate_markers
from .rooms import migrate_rooms
from .base import Store, page
from .queries import COLUMNS

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
ERASE_AFTER = 1.0  # seconds after a delete until VACUUM clears the old row versions (the contract allows 60)
READERS = 4
_LOCK_MIGRATE = 0x63686174  # pg_advisory_lock keys of this application ("chat")
_LOCK_WRITE = 0x63686175
_MIGRATIONS = {
    1: """
    CREATE TABLE users (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        password_hash TEXT
    );
    CREATE TABLE messages (
        id BIGSERIAL PRIMARY KEY,
        from_key TEXT NOT NULL,
        from_user TEXT NOT NULL,
        to_key TEXT,
        to_user TEXT,
        msg TEXT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
        cid TEXT
    );
    CREATE UNIQUE INDEX messages_cid ON messages (from_key, cid) WHERE cid IS NOT NULL;
    CREATE INDEX messages_to ON messages (to_key, id);
    CREATE INDEX messages_from ON messages (from_key, id) WHERE to_key IS NOT NULL;
    CREATE INDEX messages_ts ON messages (ts);
    """,
    2: lambda conn: migrate_accounts(conn, "%s", "DOUBLE PRECISION"),
    3: lambda conn: migrate_rooms(conn, "DOUBLE PRECISION", [
        "CREATE INDEX messages_room ON messages (room_key, id) WHERE room_key IS NOT NULL"]),
    4: lambda conn: migrate_changes(conn, "DOUBLE PRECISION"),
    5: lambda conn: migrate_markers(conn, postgresql=True),
}


def _connect(url):
    return psycopg.connect(url, autocommit=True, connect_timeout=5, application_name="chat")


def migrate(url):
    """Create or upgrade the schema, one process at a time; SettingsError when unusable."""
    try:
        with _connect(url) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_MIGRATE,))
            conn.execute("CREATE TABLE IF NOT EXISTS chat_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM chat_schema").fetchone()
            version = row[0] or 0
            if version > SCHEMA_VERSION:
                raise SettingsError(f"CHAT_DATABASE_URL has schema version {version}, newer than this "
                                    f"server's {SCHEMA_VERSION}: upgrade the server")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                with conn.transaction():
                    if callable(_MIGRATIONS[step]):
                        _MIGRATIONS[step](conn)
                    else:
                        conn.execute(_MIGRATIONS[step])
                    conn.execute("INSERT INTO chat_schema (version) VALUES (%s)", (step,))
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_MIGRATE,))
    except psycopg.Error as exc:
        raise SettingsError(f"CHAT_DATABASE_URL cannot be used: {exc}".strip()) from None


class _Connections:
    """A few connections, opened on demand and replaced when one breaks."""

    def __init__(self, url, size):
        self.url = url
        self._closing = False
        self._idle = Queue()
        for _ in range(size):
            self._idle.put(None)

    def close(self):
        """Close the idle connections (the busy ones close when they come back)."""
        self._closing = True
        while not self._idle.empty():
            conn = self._idle.get()
            if conn is not None:
                conn.close()

    def run(self, work):
        """Call `work(conn)` on a healthy connection; StoreUnavailable when the database is gone."""
        conn = self._idle.get()
        try:
            if conn is None or conn.closed or conn.broken:
                conn = _connect(self.url)
            return work(conn)
        except psycopg.OperationalError as exc:
            if conn is not None and not conn.closed:
                conn.close()
            conn = None
            raise StoreUnavailable(f"PostgreSQL does not answer: {exc}".strip()) from None
        finally:
            if self._closing and conn is not None:
                conn.close()
            self._idle.put(conn if conn is not None and not conn.closed else None)


def _run_batch(conn, batch):
    """One transaction for the whole batch, behind the write lock: ids in commit order."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_WRITE,))
        return [operation(conn, *args) for operation, args in batch]


def _last_id(conn):
    return conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]


class PostgresStore(Store):
    """Users and messages in PostgreSQL, shared by every worker of every host."""

    def __init__(self, url):
        migrate(url)
        self._readers = _Connections(url, READERS)
        self._writer = _Connections(url, 1)
        self._url = url
        self._erase_timer = None
        super().__init__()

    def _read(self, operation, *args):
        return self._readers.run(lambda conn: operation(conn, *args))

    def _close(self):
        if self._erase_timer is not None:
            self._erase_timer.kill()
            self._vacuum()
        self._readers.close()
        self._writer.close()

    def _run_batch(self, batch):
        outcomes = self._writer.run(lambda conn: _run_batch(conn, batch))
        if any(operation == PostgresStore._change_message and args[0]["kind"] == "delete"
               for operation, args in batch):
            self.erase_soon()
        return outcomes

    def erase_soon(self):
        """VACUUM the messages within ERASE_AFTER seconds: an UPDATE leaves the old version
        of a row, the deleted text in it, in the table's pages until then."""
        if self._erase_timer is None:
            self._erase_timer = gevent.spawn_later(ERASE_AFTER, self._vacuum)

    def _vacuum(self):
        self._erase_timer = None
        try:
            with _connect(self._url) as conn:
                conn.execute("VACUUM messages")
        except psycopg.Error as exc:
            log.warning("VACUUM after a delete failed (the next delete tries again): %s", exc)

    @staticmethod
    def _replace_password_hash(conn, key, old, new):
        return conn.execute("UPDATE users SET password_hash = %s WHERE key = %s AND password_hash IS NOT DISTINCT "
                            "FROM %s", (new, key, old)).rowcount == 1

    @staticmethod
    def _insert_message(conn, from_user, to_user, msg, cid, ts, room):  # pylint: disable=too-many-arguments
        from_key = name_key(from_user)
        to_key = name_key(to_user) if to_user is not None else None
        room_key = name_key(room) if room is not None else None
        row = conn.execute(
            "INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts, cid, room_key, room) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (from_key, cid) WHERE cid IS NOT NULL "
            "DO NOTHING RETURNING id", (from_key, from_user, to_key, to_user, msg, ts, cid, room_key, room)).fetchone()
        if row:
            return Message(row[0], from_user, to_user, msg, ts, room), True
        row = conn.execute(f"SELECT {COLUMNS} FROM messages WHERE from_key = %s AND cid = %s",
                           (from_key, cid)).fetchone()
        return Message(*row), False

    @classmethod
    def _insert_returning_id(cls, conn, sql, params):
        return conn.execute(cls._sql(sql + " RETURNING id"), params).fetchone()[0]

    @staticmethod
    def _snapshot(conn, me, since, limit):
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            last_id = _last_id(conn)
            rows = PostgresStore._visible(conn, me, since, limit)
        return (last_id, *page(rows, limit))

    _last_id = staticmethod(_last_id)

    _BYTES = ' COLLATE "C"'  # the prefix ranges of PeopleStore compare bytes, whatever the database's collation

    @staticmethod
    def _in_snapshot(conn, operation, *args):
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return operation(conn, *args)

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def _sql(text):
        return re.sub(r":(\w+)", r"%(\1)s", text)

    @staticmethod
    def _prune(conn, older_than):
        # The newest row stays: the last id (max(id)) must never go back.
        return conn.execute("DELETE FROM messages WHERE ts < %s AND id < (SELECT max(id) FROM messages)",
                            (older_than,)).rowcount

    @staticmethod
    def _ping(conn):
        return conn.execute("SELECT 1").fetchone()

