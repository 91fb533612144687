"""The SQLite store's writes, run on a thread of the pool: plain sqlite3, no gevent.

One transaction per batch of the group commit (one commit, one fsync); the messages
of a batch go in with one executemany, and are counted for the unread counts behind
the commit (tallies.py).
"""

import contextlib
import itertools
import sqlite3

from ...protocol.names import name_key
from ...protocol.server_frames import Message
from ..queries import COLUMNS
from .tallies import TALLY_ROWS, count_tail


@contextlib.contextmanager
def transaction(conn, begin):
    """`begin`, then COMMIT when the block ends, or ROLLBACK when it raises."""
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def run_batch(conn, batch, erases, counts_first, tally_rows=TALLY_ROWS):  # pylint: disable=too-many-arguments
    """One transaction for the whole batch: one commit, one fsync. Returns the outcomes,
    the newest message id, and whether `erases(operation, args)` was true of an entry
    (asked only of the entries that are not messages: a message never erases). The
    messages waiting to be counted are counted before a write for which
    `counts_first(operation)` is true, and once `tally_rows` wait."""
    with transaction(conn, "BEGIN IMMEDIATE"):
        outcomes, erased = [], False
        for operation, entries in itertools.groupby(batch, key=lambda entry: entry[0]):
            calls = [args for _, args in entries]
            if operation is insert_message:
                outcomes += _insert_messages(conn, calls)
            else:
                if counts_first(operation):
                    count_messages(conn)  # it may read or change the counts
                erased = erased or any(erases(operation, args) for args in calls)
                outcomes += [operation(conn, *args) for args in calls]
        newest = newest_id(conn)
        count_tail(conn, newest, tally_rows)
        return outcomes, newest, erased


def count_messages(conn):
    """Count every message stored for the unread counts (tallies.py); in the writer's transaction."""
    count_tail(conn, newest_id(conn))


# sqlite3 binds a None through its adapters (lookups that fail), which costs the writer
# more than binding a string: the recipient and room columns, empty in most rows, are
# bound as '' (which no name is) and stored as NULL.
_INSERT = ("INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts, cid, room_key, room) "
           "VALUES (?, ?, nullif(?, ''), nullif(?, ''), ?, ?, ?, nullif(?, ''), nullif(?, ''))")


def _row(from_user, to_user, msg, cid, ts, room):  # pylint: disable=too-many-arguments
    return (name_key(from_user), from_user, "" if to_user is None else name_key(to_user), to_user or "", msg, ts,
            cid, "" if room is None else name_key(room), room or "")


def insert_message(conn, from_user, to_user, msg, cid, ts, room):  # pylint: disable=too-many-arguments
    """Store one message: (the Message, True), or (the one stored before with this cid, False)."""
    row = _row(from_user, to_user, msg, cid, ts, room)
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
    return Message(cursor.lastrowid, from_user, to_user, msg, ts, room), True


def _insert_messages(conn, calls):
    """`insert_message` for each of `calls`, in one executemany: calling into sqlite3
    row by row would cost the writer thread more than the inserts themselves save."""
    before = newest_id(conn)
    try:
        conn.executemany(_INSERT, [_row(*args) for args in calls])
    except sqlite3.IntegrityError:
        # A repeated cid: the rows before it are in, as only the failing statement was
        # undone; from it on, one by one. (A savepoint to undo them all would slow every batch.)
        done = newest_id(conn) - before
        return _inserted(calls[:done], before) + [insert_message(conn, *args) for args in calls[done:]]
    return _inserted(calls, before)


def _inserted(calls, before):
    # One writer, inside its transaction: the rows took consecutive ids after `before`.
    return [(Message(before + 1 + i, from_user, to_user, msg, ts, room), True)
            for i, (from_user, to_user, msg, _, ts, room) in enumerate(calls)]


def newest_id(conn):
    # AUTOINCREMENT's counter: never reused, even after pruning the newest rows.
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    return row[0] if row else 0
