"""The SQLite message store: WAL, group commit, and every disk call off the gevent hub.

Writes from many greenlets are gathered into one transaction (one fsync) run on a
thread of gevent's pool (writing.py); reads run there too, on their own connections.
The hub only ever waits on results, never on the disk. One writer at a time means ids
are handed out in commit order. Who may see a message is indexed behind the commit,
in bulk (mailbox.py).
"""

import logging
import sqlite3
import time

import gevent
from gevent.lock import Semaphore
from gevent.queue import Queue

from ...errors import StoreUnavailable
from ...protocol.server_frames import Message
from ..base import Store, page
from ..people import partner_map
from .mailbox import (ENTRIES, FILL_QUIET, FILL_ROWS, FILL_SHARE, GROUP_HISTORY, PAIR_HISTORY, ROOM_SEARCH, count,
                      fill_mailbox, forget, index, newest, open_mailbox, partner_rows, visible, with_mailbox)
from .schema import connect, open_database, truncate_log
from .tallies import TALLY_ROWS, counted_upto
from .writing import count_messages, insert_message, newest_id, run_batch, transaction

log = logging.getLogger(__name__)

READERS = 4
# A reader's page cache, for each file it has open (the database and its mailbox), in KiB;
# SQLite's default is 2,000. In WAL mode a connection drops its whole cache when another
# has committed since its last read, so with messages arriving a reader's cache holds little
# more than the pages of its current read; at the default, four readers could still keep
# up to 16 MiB of them, growing with the file (bench/NOTES.md, "the soak's RSS, taken apart").
READER_CACHE_KIB = 512
ERASE_AFTER = 1.0  # seconds after a delete until its text leaves the WAL (the contract allows 60)


def _erases(operation, args):
    """True for a write that blanks text: a delete, or an account's erasure."""
    if operation == SqliteStore._change_message:
        return args[0]["kind"] == "delete"
    return operation in (SqliteStore._erase, SqliteStore._log_in_guest, SqliteStore._end_session)


def _counts_first(operation):
    """Whether a write needs the messages counted before it (tallies.py): all but moving a
    read marker, the write of every read frame, which is right on an uncounted tail
    (counting moves a sender's marker only if that is further)."""
    return operation != SqliteStore._move_marker


def _reader(path):
    """A reader's connection to the database at `path`: the mailbox attached, and each
    file's page cache bounded to READER_CACHE_KIB."""
    conn = with_mailbox(connect(path), path)
    for _, schema, _ in conn.execute("PRAGMA database_list").fetchall():
        conn.execute(f"PRAGMA {schema}.cache_size=-{READER_CACHE_KIB}")  # negative: KiB, not pages
    return conn


class SqliteStore(Store):
    """Users and messages in one SQLite file (and the mailbox in another) shared by every worker of a host."""

    def __init__(self, path, fill_rows=FILL_ROWS, tally_rows=TALLY_ROWS):
        self.path = path
        self._fill_rows = fill_rows
        self._tally_rows = tally_rows
        self._fill_timer = None
        self._erase_timer = None
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
            self._readers.put(_reader(path))
        super().__init__()

    def _read(self, operation, *args):
        conn = self._readers.get()
        try:
            return gevent.get_hub().threadpool.apply(operation, (conn,) + args)
        finally:
            self._readers.put(conn)

    def _close(self):
        for timer in (self._fill_timer, self._erase_timer):
            if timer is not None:
                timer.kill()
        with self._indexing:
            self._indexer.close()
        while not self._readers.empty():
            self._readers.get().close()
        self._empty_log()  # a clean stop leaves no deleted text in the WAL
        self._writer.close()

    def _run_batch(self, batch):
        before = self._committed
        outcomes, self._committed, erased = gevent.get_hub().threadpool.apply(
            run_batch, (self._writer, batch, _erases, _counts_first, self._tally_rows))
        if self._committed != before:
            self._last_write = time.monotonic()  # new events: the quiet fill waits for the next lull
        self._consider_filling()
        if erased:
            self.erase_soon()
        return outcomes

    def erase_soon(self):
        """Empty the WAL within ERASE_AFTER seconds: the text a delete blanked is still in it."""
        if self._erase_timer is None:
            self._erase_timer = gevent.spawn_later(ERASE_AFTER, self._erase_later)

    def _erase_later(self):
        self._erase_timer = None
        if not self._empty_log():
            self.erase_soon()  # a reader held it up: again shortly

    def _empty_log(self):
        try:
            return gevent.get_hub().threadpool.apply(truncate_log, (self.path,))
        except sqlite3.Error as exc:
            log.warning("emptying the WAL after a delete failed (trying again): %s", exc)
            return False

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
            self._upto = self._index(fill_mailbox, FILL_SHARE)
        except StoreUnavailable as exc:  # tried again later; queries scan the tail meanwhile
            log.warning("indexing the newest messages failed: %s", exc)
            self._fill_quietly()
            return
        finally:
            self._filling = False
        self._consider_filling()  # what came while this fill ran

    def _index(self, operation, *args):
        """Run `operation` on the indexer's connection (see mailbox.index); StoreUnavailable if it fails."""
        with self._indexing:
            try:
                return gevent.get_hub().threadpool.apply(index, (self._indexer, operation) + args)
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
            self._index(forget, keys, oldest)
        except StoreUnavailable as exc:
            log.warning("freeing the pruned messages' mailbox entries failed (the next prune tries again): %s", exc)
        else:
            self._unforgotten.difference_update(keys)
        return removed

    @staticmethod
    def _replace_password_hash(conn, key, old, new):
        return conn.execute("UPDATE users SET password_hash = ? WHERE key = ? AND password_hash IS ?",
                            (new, key, old)).rowcount == 1

    _insert_message = staticmethod(insert_message)

    @classmethod
    def _insert_returning_id(cls, conn, sql, params):
        return conn.execute(sql, params).lastrowid

    @staticmethod
    def _snapshot(conn, me, since, limit):
        with transaction(conn, "BEGIN"):  # one snapshot: last_id covers every row read
            last_id = newest_id(conn)
            rows = SqliteStore._visible(conn, me, since, limit)
        return (last_id, *page(rows, limit))

    _last_id = staticmethod(newest_id)

    @staticmethod
    def _partners(conn, me):
        return partner_map(partner_rows(conn, me), me)

    @staticmethod
    def _visible(conn, me, since, limit):
        """Up to `limit` + 1 messages visible to `me` after `since`, newest first."""
        return visible(conn, "> :since", {"me": me, "since": since or 0, "n": limit + 1})

    @staticmethod
    def _history(conn, me, other, before, limit, room=None):  # pylint: disable=too-many-arguments
        searches = ROOM_SEARCH if room is not None else GROUP_HISTORY if other is None else PAIR_HISTORY
        rows = newest(conn, searches, "< :before",
                      {"me": me, "other": other, "room": room, "before": before, "n": limit})
        return [Message(*row) for row in reversed(rows)]

    def _count_every_message(self):
        self._write(count_messages)

    @staticmethod
    def _counted_upto(conn, newest):
        return counted_upto(conn)  # not `newest`: the messages above are counted behind the commit

    @staticmethod
    def _count_between(conn, low, high, params):
        """How many messages with an id above `low` and up to `high` the conversation
        `params` names has, found through the mailbox (the messages have no index by
        conversation)."""
        searches = (ROOM_SEARCH if params["room"] is not None else GROUP_HISTORY if params["other"] is None
                    else PAIR_HISTORY)
        return count(conn, searches, "BETWEEN :low AND :high", {**params, "low": low + 1, "high": high})

    @staticmethod
    def _in_snapshot(conn, operation, *args):
        with transaction(conn, "BEGIN"):
            return operation(conn, *args)

    @staticmethod
    def _prune(conn, older_than, every_user=False):
        """Delete the messages; return how many, and what `forget` needs to free their
        entries: the keys of the pruned messages' users (with `every_user`, of every user
        and the group)."""
        # Ids follow the clock: the old messages lie below the first one that is not old,
        # reached by reading the old ones in id order, which the delete visits anyway (no
        # index on `ts` slows every insert). Behind a clock set back, an old message above
        # that one waits for a later pass; none newer than `older_than` ever goes.
        first_new = conn.execute("SELECT id FROM messages WHERE ts >= ? ORDER BY id LIMIT 1",
                                 (older_than,)).fetchone()
        old = {"t": older_than, "below": first_new[0] if first_new else newest_id(conn) + 1}
        where = "id < :below AND ts < :t"
        pruned = f"SELECT key FROM ({ENTRIES.format(where=where)})"
        who = (f"{pruned} UNION SELECT key FROM users UNION SELECT '#' || key FROM rooms UNION SELECT ''" if every_user
               else f"SELECT DISTINCT key FROM ({pruned})")
        keys = conn.execute(who, old).fetchall()
        removed = conn.execute(f"DELETE FROM messages WHERE {where}", old).rowcount
        # Below the oldest message left, every entry is a pruned message's. One above it
        # (a clock set back) waits for a later pass; queries skip it, joining on messages.
        # With none left, the next id: a message stored before `forget` runs keeps its entries.
        oldest = conn.execute("SELECT coalesce(min(id), ?) FROM messages", (newest_id(conn) + 1,)).fetchone()[0]
        return removed, [key for key, in keys], oldest

    @staticmethod
    def _ping(conn):
        return conn.execute("SELECT 1").fetchone()
