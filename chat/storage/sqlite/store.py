"""The SQLite message store: WAL, group commit, and every disk call off the gevent hub.

Writes from many greenlets are gathered into one transaction (one fsync) run on a
thread of gevent's pool; reads run there too, on their own connections. The hub
only ever waits on results, never on the disk. One writer at a time means ids are
handed out in commit order.

Who may see a message is indexed behind the commit, in bulk, in a file of its own
(`<database>-mailbox`): its `mailbox` table lists (user key, id) for every id up to
`mailbox_filled.upto`, '' standing for the group. Indexing each message as it is stored
would write a page per user per commit; filled FILL_ROWS messages at a time, in one
transaction, each user's page is written once per fill. The fills run on a connection and
a thread of their own and lock only the mailbox file, so commits never wait for them, and
pause as they go, so that a fill takes a share of the core (FILL_SHARE) for a while rather
than all of it at once (docs/performance.md has the measurements). Queries read the mailbox and
scan the short tail above `upto`. The mailbox is derived data: deleted, it is rebuilt
when the store opens.
"""

import contextlib
import itertools
import logging
import sqlite3
import time

import gevent
import gevent.monkey
from gevent.lock import Semaphore
from gevent.queue import Queue

from ...errors import SettingsError, StoreUnavailable
from ...protocol.names import name_key
from ...protocol.server_frames import Message
from ..base import COLUMNS, GROUP, PAIR, TO_OR_FROM_ME, Store, page

log = logging.getLogger(__name__)
_sleep = gevent.monkey.get_original("time", "sleep")  # a pool thread's pause: a real one, not the hub's

SCHEMA_VERSION = 5
READERS = 4
FILL_ROWS = 4096  # the tail is indexed once it is this long (see the module's docstring)
FILL_QUIET = 1.0  # or once writes stop for this many seconds, so a quiet server's tail is empty
# A fill behind a running server takes about this share of the core, FILL_CHUNK ids at a
# time: in one go, it would hold the core from the hub for a while.
FILL_SHARE = 0.25
FILL_CHUNK = 512  # all in one transaction: each page is still written to the log once a fill
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
    3: """
    DROP INDEX messages_to;
    DROP INDEX messages_from;
    CREATE TABLE mailbox (key TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
    CREATE TABLE mailbox_filled (upto INTEGER NOT NULL);
    INSERT INTO mailbox_filled (upto) VALUES (0);
    """,
    4: "DROP TABLE mailbox; DROP TABLE mailbox_filled;",  # moved to a file of its own
    # Each commit wrote a leaf of this index too; a prune finds its old messages by id
    # instead (see `_prune`).
    5: "DROP INDEX messages_ts;",
}
MAILBOX_SUFFIX = "-mailbox"  # the mailbox file is the database's path and this
_MAILBOX = [
    "CREATE TABLE IF NOT EXISTS mb.mailbox (key TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS mb.mailbox_filled (upto INTEGER NOT NULL)",
    "INSERT INTO mb.mailbox_filled (upto) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM mb.mailbox_filled)",
]

# The mailbox entries of the messages chosen by `where`: the recipient's key ('' for the
# group) and, for a direct message, the sender's. A note to oneself gives one entry.
_ENTRIES = """SELECT coalesce(to_key, '') AS key, id FROM messages WHERE {where}
    UNION ALL SELECT from_key, id FROM messages WHERE ({where}) AND to_key IS NOT NULL"""
_TAIL = "(SELECT upto FROM mb.mailbox_filled)"


def _connect(path):
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # an acknowledgement survives power loss too
    conn.execute("PRAGMA busy_timeout=10000")
    # Checkpoint every 10,000 pages (40 MiB of WAL), not 1,000: an index page rewritten by
    # many commits in between is copied into the database once.
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    return conn


def _with_mailbox(conn, path):
    """`conn` with the mailbox file of the database at `path` attached as `mb`."""
    conn.execute("ATTACH DATABASE ? AS mb", (path + MAILBOX_SUFFIX,))
    conn.execute("PRAGMA mb.journal_mode=WAL")
    # Derived data: a power cut may lose the newest fills, which the next fill redoes.
    conn.execute("PRAGMA mb.synchronous=NORMAL")
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
    except sqlite3.DatabaseError as exc:
        raise SettingsError(f"{where} cannot be used: {exc}") from None
    return conn


def open_mailbox(path):
    """The indexer's connection to the database at `path` and its mailbox, which is
    created, checked against the messages and filled, and the id it is filled to;
    SettingsError when unusable."""
    try:
        conn = _with_mailbox(_connect(path), path)
        with _transaction(conn, "BEGIN IMMEDIATE"):
            for statement in _MAILBOX:
                conn.execute(statement)
            # A mailbox ahead of the messages (they were restored from a backup, or lost their
            # last commits) would hide the messages that get those ids again: drop its extra part.
            last_id = _last_id(conn)
            if conn.execute(f"SELECT {_TAIL}").fetchone()[0] > last_id:
                conn.execute("DELETE FROM mb.mailbox WHERE id > ?", (last_id,))
                conn.execute("UPDATE mb.mailbox_filled SET upto = ?", (last_id,))
            upto = _fill_mailbox(conn)  # what an older server stored, or this one left unindexed when it stopped
    except sqlite3.DatabaseError as exc:
        raise SettingsError(f"CHAT_DATABASE_URL: {path}{MAILBOX_SUFFIX} cannot be used: {exc}") from None
    return conn, upto


# -- run on the thread pool: plain sqlite3, no gevent ----------------------

@contextlib.contextmanager
def _transaction(conn, begin):
    """`begin`, then COMMIT when the block ends, or ROLLBACK when it raises."""
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _run_batch(conn, batch):
    """One transaction for the whole batch: one commit, one fsync. Returns the outcomes
    and the newest message id."""
    with _transaction(conn, "BEGIN IMMEDIATE"):
        outcomes = []
        for operation, entries in itertools.groupby(batch, key=lambda entry: entry[0]):
            calls = [args for _, args in entries]
            if operation is _insert_message:
                outcomes += _insert_messages(conn, calls)
            else:
                outcomes += [operation(conn, *args) for args in calls]
        return outcomes, _last_id(conn)


_INSERT = "INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts, cid) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _row(from_user, to_user, msg, cid, ts):
    return (name_key(from_user), from_user, name_key(to_user) if to_user is not None else None, to_user, msg, ts, cid)


def _insert_message(conn, from_user, to_user, msg, cid, ts):
    """Store one message: (the Message, True), or (the one stored before with this cid, False)."""
    row = _row(from_user, to_user, msg, cid, ts)
    try:
        cursor = conn.execute(_INSERT, row)
    except sqlite3.IntegrityError:
        # A repeated cid, the rare case, looked up only then. The failed statement alone
        # is undone: the transaction goes on, and no id is used up (ON CONFLICT would).
        found = conn.execute(f"SELECT {COLUMNS} FROM messages WHERE from_key = ? AND cid = ?",
                             (row[0], cid)).fetchone()
        if found is None:
            raise
        return Message(*found), False
    return Message(cursor.lastrowid, from_user, to_user, msg, ts), True


def _insert_messages(conn, calls):
    """`_insert_message` for each of `calls`, in one executemany: calling into sqlite3
    row by row would cost the writer thread more than the inserts themselves save."""
    before = _last_id(conn)
    try:
        conn.executemany(_INSERT, [_row(*args) for args in calls])
    except sqlite3.IntegrityError:
        # A repeated cid: the rows before it are in, as only the failing statement was
        # undone; from it on, one by one. (A savepoint to undo them all would slow every batch.)
        done = _last_id(conn) - before
        return _inserted(calls[:done], before) + [_insert_message(conn, *args) for args in calls[done:]]
    return _inserted(calls, before)


def _inserted(calls, before):
    # One writer, inside its transaction: the rows took consecutive ids after `before`.
    return [(Message(before + 1 + i, from_user, to_user, msg, ts), True)
            for i, (from_user, to_user, msg, _, ts) in enumerate(calls)]


def _index(conn, operation, *args):
    """Run `operation(conn, *args)` on the indexer's connection in a transaction that
    writes the mailbox file alone: the messages are only read, so no commit waits."""
    with _transaction(conn, "BEGIN"):  # not IMMEDIATE: that would take the messages' write lock too
        # Take the mailbox's write lock before reading anything, so that another
        # process's fill in between cannot leave this transaction on an old snapshot.
        conn.execute("UPDATE mb.mailbox_filled SET upto = upto")
        return operation(conn, *args)


# The entries of the ids in (low, high]. OR IGNORE: a note to oneself lists its sender twice.
# In id order, not sorted by key: the transaction writes each page once either way, so
# sorting would only add work.
_FILL = f"""INSERT OR IGNORE INTO mb.mailbox (key, id)
    {_ENTRIES.format(where="id > :low AND id <= :high")}"""


def _fill_mailbox(conn, share=1.0):
    """Index every message above `upto`; return the new `upto`.

    With `share` under 1 the fill goes FILL_CHUNK ids at a time and pauses after each
    chunk, so that its thread takes about that share of the core; else in one statement.
    """
    last_id = _last_id(conn)
    upto = conn.execute(f"SELECT {_TAIL}").fetchone()[0]
    pause = 1 / share - 1  # seconds of pause per second of work; none at a share of 1
    step = FILL_CHUNK if pause else max(last_id - upto, 1)
    for low in range(upto, last_id, step):
        began = time.thread_time()
        conn.execute(_FILL, {"low": low, "high": min(low + step, last_id)})
        if pause:
            _sleep((time.thread_time() - began) * pause)
    conn.execute("UPDATE mb.mailbox_filled SET upto = ?", (last_id,))
    return last_id


def _forget(conn, keys, oldest):
    """Delete the mailbox entries of `keys` below the id `oldest` (their messages are pruned)."""
    conn.executemany("DELETE FROM mb.mailbox WHERE key = ? AND id < ?", [(key, oldest) for key in keys])


# What `_newest` searches: (mailbox key, condition on the message).
_GROUP = [("''", GROUP)]
_VISIBLE = _GROUP + [(":me", TO_OR_FROM_ME)]
_PAIR = [(":me", PAIR)]


def _newest(conn, searches, bound, params):
    """The newest :n messages with `id {bound}` found by `searches`, newest first.

    Each search is (mailbox key, condition on the message): the mailbox finds the
    indexed ones, and the unindexed tail is scanned for any key's condition.
    """
    indexed = [f"""SELECT id FROM (SELECT x.id FROM mb.mailbox x JOIN messages m ON m.id = x.id
                   WHERE x.key = {key} AND x.id {bound} AND {where} ORDER BY x.id DESC LIMIT :n)"""
               for key, where in searches]
    tail = " OR ".join(where for _, where in searches)
    return conn.execute(f"""SELECT {COLUMNS} FROM messages WHERE id IN (
        {" UNION ALL ".join(indexed)}
        UNION ALL SELECT id FROM messages WHERE id > {_TAIL} AND id {bound} AND ({tail}))
        ORDER BY id DESC LIMIT :n""", params).fetchall()


def _last_id(conn):
    # AUTOINCREMENT's counter: never reused, even after pruning the newest rows.
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    return row[0] if row else 0


class SqliteStore(Store):
    """Users and messages in one SQLite file (and the mailbox in another) shared by every worker of a host."""

    def __init__(self, path, fill_rows=FILL_ROWS):
        self.path = path
        self._fill_rows = fill_rows
        self._fill_timer = None
        self._filling = False
        self._last_write = 0.0
        self._writer = open_database(path)
        self._indexer, self._upto = open_mailbox(path)
        self._indexing = Semaphore()  # one user of the indexer's connection at a time
        self._unforgotten = set()  # users whose pruned messages' entries are still to be freed
        self._swept = False  # whether a prune freed every user's entries since this process started
        self._committed = self._upto  # open_mailbox indexed every message stored so far
        self._readers = Queue()
        for _ in range(READERS):
            self._readers.put(_with_mailbox(_connect(path), path))
        super().__init__()

    def _read(self, operation, *args):
        conn = self._readers.get()
        try:
            return gevent.get_hub().threadpool.apply(operation, (conn,) + args)
        finally:
            self._readers.put(conn)

    def _close(self):
        if self._fill_timer is not None:
            self._fill_timer.kill()
        with self._indexing:
            self._indexer.close()
        while not self._readers.empty():
            self._readers.get().close()
        self._writer.close()

    def _run_batch(self, batch):
        outcomes, self._committed = gevent.get_hub().threadpool.apply(_run_batch, (self._writer, batch))
        self._last_write = time.monotonic()
        self._consider_filling()
        return outcomes

    def _consider_filling(self):
        """Fill once FILL_ROWS messages are unindexed, or once writes stop for FILL_QUIET."""
        behind = self._committed - self._upto
        if behind >= self._fill_rows:
            self._start_filling()
        elif behind > 0:
            self._fill_quietly()

    def _start_filling(self):
        if not self._filling:  # one at a time: the fill under way looks again when it ends
            self._filling = True
            gevent.spawn(self._fill)

    def _fill_quietly(self):
        if self._fill_timer is None:
            self._fill_timer = gevent.spawn_later(FILL_QUIET, self._fill_when_quiet)

    def _fill_when_quiet(self):
        quiet_for = time.monotonic() - self._last_write
        if quiet_for < FILL_QUIET:
            self._fill_timer = gevent.spawn_later(FILL_QUIET - quiet_for, self._fill_when_quiet)
            return
        self._fill_timer = None
        self._start_filling()

    def _fill(self):
        try:
            self._upto = self._index(_fill_mailbox, FILL_SHARE)
        except StoreUnavailable as exc:  # tried again later; queries scan the tail meanwhile
            log.warning("indexing the newest messages failed: %s", exc)
            self._fill_quietly()
            return
        finally:
            self._filling = False
        self._consider_filling()  # what came while this fill ran

    def _index(self, operation, *args):
        """Run `operation` on the indexer's connection (see `_index`); StoreUnavailable if it fails."""
        with self._indexing:
            try:
                return gevent.get_hub().threadpool.apply(_index, (self._indexer, operation) + args)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"the mailbox failed: {exc}") from exc

    def prune(self, older_than):
        """Delete messages stored before the Unix time `older_than`, and their mailbox entries; return how many.

        The entries of users whose cleanup failed are freed by a later pass: until then
        they only take space, as queries join on the messages.
        """
        # Which cleanups failed before a restart is not known: a process's first pass frees
        # every user's entries (one seek a user, on the indexer's thread).
        removed, keys, oldest = self._write(self._prune, older_than, not self._swept)
        self._swept = True
        self._unforgotten.update(keys)
        keys = sorted(self._unforgotten)
        try:
            self._index(_forget, keys, oldest)
        except StoreUnavailable as exc:
            log.warning("freeing the pruned messages' mailbox entries failed (the next prune tries again): %s", exc)
        else:
            self._unforgotten.difference_update(keys)
        return removed

    @classmethod
    def _insert_user(cls, conn, key, name):
        conn.execute("INSERT OR IGNORE INTO users (key, name, created) VALUES (?, ?, ?)", (key, name, time.time()))
        return cls._find_user(conn, key)

    @staticmethod
    def _replace_password_hash(conn, key, old, new):
        return conn.execute("UPDATE users SET password_hash = ? WHERE key = ? AND password_hash IS ?",
                            (new, key, old)).rowcount == 1

    _insert_message = staticmethod(_insert_message)

    @staticmethod
    def _snapshot(conn, me, since, limit):
        with _transaction(conn, "BEGIN"):  # one snapshot: last_id covers every row read
            last_id = _last_id(conn)
            rows = SqliteStore._visible(conn, me, since, limit)
        return (last_id, *page(rows, limit))

    _last_id = staticmethod(_last_id)

    @staticmethod
    def _visible(conn, me, since, limit):
        """Up to `limit` + 1 messages visible to `me` after `since`, newest first."""
        return _newest(conn, _VISIBLE, "> :since", {"me": me, "since": since or 0, "n": limit + 1})

    @staticmethod
    def _history(conn, me, other, before, limit):
        searches = _GROUP if other is None else _PAIR
        rows = _newest(conn, searches, "< :before", {"me": me, "other": other, "before": before, "n": limit})
        return [Message(*row) for row in reversed(rows)]

    @staticmethod
    def _prune(conn, older_than, every_user=False):
        """Delete the messages; return how many, and what `_forget` needs to free their
        entries: the keys of the pruned messages' users (with `every_user`, of every user
        and the group)."""
        # Ids follow the clock: the old messages lie below the first one that is not old,
        # reached by reading the old ones in id order, which the delete visits anyway (no
        # index on `ts` slows every insert). Behind a clock set back, an old message above
        # that one waits for a later pass; none newer than `older_than` ever goes.
        first_new = conn.execute("SELECT id FROM messages WHERE ts >= ? ORDER BY id LIMIT 1",
                                 (older_than,)).fetchone()
        old = {"t": older_than, "below": first_new[0] if first_new else _last_id(conn) + 1}
        where = "id < :below AND ts < :t"
        pruned = f"SELECT key FROM ({_ENTRIES.format(where=where)})"
        who = (f"{pruned} UNION SELECT key FROM users UNION SELECT ''" if every_user
               else f"SELECT DISTINCT key FROM ({pruned})")
        keys = conn.execute(who, old).fetchall()
        removed = conn.execute(f"DELETE FROM messages WHERE {where}", old).rowcount
        # Below the oldest message left, every entry is a pruned message's. One above it
        # (a clock set back) waits for a later pass; queries skip it, joining on messages.
        # With none left, the next id: a message stored before `_forget` runs keeps its entries.
        oldest = conn.execute("SELECT coalesce(min(id), ?) FROM messages", (_last_id(conn) + 1,)).fetchone()[0]
        return removed, [key for key, in keys], oldest

    @staticmethod
    def _ping(conn):
        return conn.execute("SELECT 1").fetchone()
