"""The mailbox: who may see which message, indexed behind the commit, in bulk.

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

import sqlite3
import time

import gevent.monkey

from ...errors import SettingsError
from ..queries import COLUMNS, GROUP, MESSAGES_ONLY, MY_MEMBER_EVENTS, PAIR, ROOM_MESSAGES, TO_OR_FROM_ME
from .schema import connect, private_file, use_wal
from .writing import newest_id, transaction

_sleep = gevent.monkey.get_original("time", "sleep")  # a pool thread's pause: a real one, not the hub's

FILL_ROWS = 4096  # the tail is indexed once it is this long (see the module's docstring)
FILL_QUIET = 1.0  # or once writes stop for this many seconds, so a quiet server's tail is empty


# A fill behind a running server takes about this share of the core, FILL_CHUNK ids at a
# time: in one go, it would hold the core from the hub for a while.
FILL_SHARE = 0.25


FILL_CHUNK = 512  # all in one transaction: each page is still written to the log once a fill


MAILBOX_SUFFIX = "-mailbox"  # the mailbox file is the database's path and this


MAILBOX_TABLES = [
    "CREATE TABLE IF NOT EXISTS mb.mailbox (key TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS mb.mailbox_filled (upto INTEGER NOT NULL)",
    "INSERT INTO mb.mailbox_filled (upto) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM mb.mailbox_filled)",
]


# The mailbox entries of the events chosen by `where`: the recipient's key ('' for the
# group), and for a direct message the sender's (a note to oneself gives one entry); a
# room's key after '#' (never in a name) for its events, and a member event's subject.
ENTRIES = """SELECT CASE WHEN room_key IS NULL THEN coalesce(to_key, '') ELSE '#' || room_key END AS key, id
    FROM messages WHERE {where}
    UNION ALL SELECT from_key, id FROM messages WHERE ({where}) AND to_key IS NOT NULL AND room_key IS NULL
    UNION ALL SELECT to_key, id FROM messages WHERE ({where}) AND room_key IS NOT NULL AND kind = 'member'"""


TAIL = "(SELECT upto FROM mb.mailbox_filled)"


def with_mailbox(conn, path):
    """`conn` with the mailbox file of the database at `path` attached as `mb`."""
    conn.execute("ATTACH DATABASE ? AS mb", (path + MAILBOX_SUFFIX,))
    use_wal(conn, "mb")
    # Derived data: a power cut may lose the newest fills, which the next fill redoes.
    conn.execute("PRAGMA mb.synchronous=NORMAL")
    return conn


def open_mailbox(path):
    """The indexer's connection to the database at `path` and its mailbox, which is
    created, checked against the messages and filled, and the id it is filled to;
    SettingsError when unusable."""
    try:
        private_file(path + MAILBOX_SUFFIX)
        conn = with_mailbox(connect(path), path)
        with transaction(conn, "BEGIN IMMEDIATE"):
            for statement in MAILBOX_TABLES:
                conn.execute(statement)
            # A mailbox ahead of the messages (they were restored from a backup, or lost their
            # last commits) would hide the messages that get those ids again: drop its extra part.
            last_id = newest_id(conn)
            if conn.execute(f"SELECT {TAIL}").fetchone()[0] > last_id:
                conn.execute("DELETE FROM mb.mailbox WHERE id > ?", (last_id,))
                conn.execute("UPDATE mb.mailbox_filled SET upto = ?", (last_id,))
            upto = fill_mailbox(conn)  # what an older server stored, or this one left unindexed when it stopped
    except (sqlite3.DatabaseError, OSError) as exc:
        raise SettingsError(f"CHAT_DATABASE_URL: {path}{MAILBOX_SUFFIX} cannot be used: {exc}") from None
    return conn, upto


def index(conn, operation, *args):
    """Run `operation(conn, *args)` on the indexer's connection in a transaction that
    writes the mailbox file alone: the messages are only read, so no commit waits."""
    with transaction(conn, "BEGIN"):  # not IMMEDIATE: that would take the messages' write lock too
        # Take the mailbox's write lock before reading anything, so that another
        # process's fill in between cannot leave this transaction on an old snapshot.
        conn.execute("UPDATE mb.mailbox_filled SET upto = upto")
        return operation(conn, *args)


# The entries of the ids in (low, high]. OR IGNORE: a note to oneself lists its sender twice.
# In id order, not sorted by key: the transaction writes each page once either way, so
# sorting would only add work.
_FILL = f"""INSERT OR IGNORE INTO mb.mailbox (key, id)
    {ENTRIES.format(where="id > :low AND id <= :high")}"""


def fill_mailbox(conn, share=1.0):
    """Index every message above `upto`; return the new `upto`.

    With `share` under 1 the fill goes FILL_CHUNK ids at a time and pauses after each
    chunk, so that its thread takes about that share of the core; else in one statement.
    """
    last_id = newest_id(conn)
    upto = conn.execute(f"SELECT {TAIL}").fetchone()[0]
    pause = 1 / share - 1  # seconds of pause per second of work; none at a share of 1
    step = FILL_CHUNK if pause else max(last_id - upto, 1)
    for low in range(upto, last_id, step):
        began = time.thread_time()
        conn.execute(_FILL, {"low": low, "high": min(low + step, last_id)})
        if pause:
            _sleep((time.thread_time() - began) * pause)
    conn.execute("UPDATE mb.mailbox_filled SET upto = ?", (last_id,))
    return last_id


def forget(conn, keys, oldest):
    """Delete the mailbox entries of `keys` below the id `oldest` (their messages are pruned)."""
    conn.executemany("DELETE FROM mb.mailbox WHERE key = ? AND id < ?", [(key, oldest) for key in keys])


# What `newest` searches: (mailbox key, condition on the message).
GROUP_SEARCH = [("''", GROUP)]


VISIBLE_SEARCH = GROUP_SEARCH + [(":me", f"({TO_OR_FROM_ME} OR {MY_MEMBER_EVENTS})")]


# What a conversation's history searches: its messages, not the events that changed them.
GROUP_HISTORY = [("''", f"{GROUP} AND {MESSAGES_ONLY}")]


PAIR_HISTORY = [(":me", f"{PAIR} AND {MESSAGES_ONLY}")]


ROOM_SEARCH = [("'#' || :room", ROOM_MESSAGES)]


ROOMS_PER_QUERY = 200  # a compound SELECT has at most 500 terms (SQLITE_MAX_COMPOUND_SELECT)


def visible(conn, bound, params):
    """The newest :n events visible to :me with `id {bound}`, newest first: the group,
    their direct messages and member events, and every event of the rooms they are in
    (read in this transaction), ROOMS_PER_QUERY rooms a query."""
    rooms = [key for key, in conn.execute("SELECT room_key FROM members WHERE user_key = ?", (params["me"],))]
    rows = newest(conn, VISIBLE_SEARCH, bound, params)
    for start in range(0, len(rooms), ROOMS_PER_QUERY):
        chunk = {f"r{i}": key for i, key in enumerate(rooms[start:start + ROOMS_PER_QUERY])}
        searches = [(f"'#' || :{name}", f"room_key = :{name}") for name in chunk]
        rows += newest(conn, searches, bound, {**params, **chunk})
    if not rooms:
        return rows
    unique = {row[0]: row for row in rows}  # one's own member events are found twice
    return sorted(unique.values(), reverse=True)[:params["n"]]


def newest(conn, searches, bound, params):
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
        UNION ALL SELECT id FROM messages WHERE id > {TAIL} AND id {bound} AND ({tail}))
        ORDER BY id DESC LIMIT :n""", params).fetchall()


def count(conn, searches, bound, params):
    """How many messages with `id {bound}` `searches` find (see `newest`)."""
    indexed = [f"""SELECT x.id FROM mb.mailbox x JOIN messages m ON m.id = x.id
                   WHERE x.key = {key} AND x.id {bound} AND {where}""" for key, where in searches]
    tail = " OR ".join(where for _, where in searches)
    return conn.execute(f"""SELECT count(*) FROM ({" UNION ALL ".join(indexed)}
        UNION ALL SELECT id FROM messages WHERE id > {TAIL} AND id {bound} AND ({tail}))""", params).fetchone()[0]


# The other side of each direct message of :me, through the mailbox and the tail.
_PARTNERS = f"""SELECT DISTINCT CASE WHEN m.from_key = :me THEN m.to_key ELSE m.from_key END,
                       CASE WHEN m.from_key = :me THEN m.to_user ELSE m.from_user END
    FROM messages m WHERE m.id IN (
        SELECT x.id FROM mb.mailbox x WHERE x.key = :me
        UNION ALL SELECT id FROM messages WHERE id > {TAIL} AND (from_key = :me OR to_key = :me))
    AND m.room_key IS NULL AND m.to_key IS NOT NULL"""


def partner_rows(conn, me):
    """(key, display name) of everyone :me exchanged a direct message with (oneself too)."""
    return conn.execute(_PARTNERS, {"me": me}).fetchall()
