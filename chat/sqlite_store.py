"""The SQLite message store: WAL, group commit, and every disk call off the gevent hub.

Writes from many greenlets are gathered into one transaction (one fsync) run on a
thread of gevent's pool; reads run there too, on their own connections. The hub
only ever waits on results, never on the disk. One writer at a time means ids are
handed out in commit order.
"""

import sqlite3
import time

import gevent
from gevent.queue import Queue

from .errors import SettingsError
from .protocol import Message, name_key
from .store import COLUMNS, Store, page

SCHEMA_VERSION = 2
READERS = 4
_MIGRATIONS = {
    1: """
    CREATE TABLE users (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        from_key TEXT NOT NULL,
        from_user TEXT NOT NULL,
        to_key TEXT,
        to_user TEXT,
        msg TEXT NOT NULL,
        ts REAL NOT NULL,
        cid TEXT
    );
    CREATE UNIQUE INDEX messages_cid ON messages (from_key, cid) WHERE cid IS NOT NULL;
    CREATE INDEX messages_to ON messages (to_key, id);
    CREATE INDEX messages_from ON messages (from_key, id) WHERE to_key IS NOT NULL;
    CREATE INDEX messages_ts ON messages (ts);
    """,
    2: "ALTER TABLE users ADD COLUMN password_hash TEXT;",
}


def _connect(path):
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # an acknowledgement survives power loss too
    conn.execute("PRAGMA busy_timeout=10000")
    # Checkpoint every 10,000 pages (40 MiB of WAL), not 1,000: an index page rewritten by
    # many commits in between is copied into the database once.
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    return conn


def open_database(path):
    """Open (creating and migrating) the database at `path`; SettingsError when unusable."""
    where = f"CHAT_DATABASE_URL: {path}"
    try:
        conn = _connect(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SettingsError(f"{where} has schema version {version}, newer than this "
                                f"server's {SCHEMA_VERSION}: upgrade the server")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            conn.executescript(f"BEGIN IMMEDIATE; {_MIGRATIONS[step]} PRAGMA user_version={step}; COMMIT;")
        conn.execute("SELECT count(*) FROM messages").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SettingsError(f"{where} cannot be used: {exc}") from None
    return conn


# -- run on the thread pool: plain sqlite3, no gevent ----------------------

def _run_batch(conn, batch):
    """One transaction for the whole batch: one commit, one fsync."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes = [operation(conn, *args) for operation, args in batch]
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _last_id(conn):
    # AUTOINCREMENT's counter: never reused, even after pruning the newest rows.
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    return row[0] if row else 0


class SqliteStore(Store):
    """Users and messages in one SQLite file shared by every worker of a host."""

    def __init__(self, path):
        self.path = path
        self._writer = open_database(path)
        self._readers = Queue()
        for _ in range(READERS):
            self._readers.put(_connect(path))
        super().__init__()

    def _read(self, operation, *args):
        conn = self._readers.get()
        try:
            return gevent.get_hub().threadpool.apply(operation, (conn,) + args)
        finally:
            self._readers.put(conn)

    def _run_batch(self, batch):
        return gevent.get_hub().threadpool.apply(_run_batch, (self._writer, batch))

    @classmethod
    def _insert_user(cls, conn, key, name):
        conn.execute("INSERT OR IGNORE INTO users (key, name, created) VALUES (?, ?, ?)", (key, name, time.time()))
        return cls._find_user(conn, key)

    @staticmethod
    def _replace_password_hash(conn, key, old, new):
        return conn.execute("UPDATE users SET password_hash = ? WHERE key = ? AND password_hash IS ?",
                            (new, key, old)).rowcount == 1

    @staticmethod
    def _insert_message(conn, from_user, to_user, msg, cid, ts):
        from_key = name_key(from_user)
        to_key = name_key(to_user) if to_user is not None else None
        try:
            cursor = conn.execute(
                "INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts, cid) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (from_key, from_user, to_key, to_user, msg, ts, cid))
        except sqlite3.IntegrityError:
            # A repeated cid, the rare case, looked up only then. The failed statement alone
            # is undone: the transaction goes on, and no id is used up (ON CONFLICT would).
            row = conn.execute(f"SELECT {COLUMNS} FROM messages WHERE from_key = ? AND cid = ?",
                               (from_key, cid)).fetchone()
            if row is None:
                raise
            return Message(*row), False
        return Message(cursor.lastrowid, from_user, to_user, msg, ts), True

    @staticmethod
    def _snapshot(conn, me, since, limit):
        conn.execute("BEGIN")
        try:
            last_id = _last_id(conn)
            rows = SqliteStore._visible(conn, me, since, limit)
        finally:
            conn.execute("COMMIT")
        return (last_id, *page(rows, limit))

    _last_id = staticmethod(_last_id)

    @staticmethod
    def _prune(conn, older_than):
        return conn.execute("DELETE FROM messages WHERE ts < ?", (older_than,)).rowcount

    @staticmethod
    def _ping(conn):
        return conn.execute("SELECT 1").fetchone()
