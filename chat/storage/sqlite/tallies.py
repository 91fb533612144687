"""SQLite's unread counts: the newest messages counted behind the commit, in bulk.

PostgreSQL counts each message as it is stored, by a trigger (markers.py). In SQLite that
trigger rewrote, in every commit, a page of `tallies` and a page of `markers` for each
conversation the commit wrote to: a commit of 64 direct messages between as many pairs
wrote about a hundred pages besides the messages' own, which cost the writer more than
the messages did (bench/NOTES.md). So the writer counts the messages above
`tallied.upto` (the tail) in one go: once TALLY_ROWS of them wait, before every other
write but a read marker's move (a join, an account, a prune, an erasure read or change
the counts; see SqliteStore), and when the conversation list is read
(Store.conversations), each page then written once for many messages. A marker's place
counts the short tail itself (MarkerStore._seen_at).

Only messages (kind NULL) wait in the tail: the other events are written after a count,
and their trigger (`tally_event`) keeps the newest event of their conversation at once.
"""

from ..markers import sqlite_statement

TALLY_ROWS = 1024  # the tail is counted once it is this long (see the module's docstring)


# Schema 10 (a first try at counting each batch, 0737529, reverted; databases it opened
# are at 10) drops the trigger; 11 starts the tail after the newest message, which the
# trigger or that try counted.
DROP_TRIGGER = "DROP TRIGGER tally_message;"


def migrate_tallies(conn):
    """Count from here on the messages stored after now; inside the migration's transaction."""
    conn.execute("CREATE TABLE tallied (upto INTEGER NOT NULL)")
    conn.execute("INSERT INTO tallied (upto) SELECT coalesce((SELECT seq FROM sqlite_sequence "
                 "WHERE name = 'messages'), 0)")


# Each conversation of the tail (GROUP BY 1: the conversation's key): counted, and its
# newest message its newest event. (The WHERE of a SELECT before an upsert's ON CONFLICT
# is what SQLite's grammar needs to tell the two apart; `WHERE true` below too.)
_COUNT = sqlite_statement("""INSERT INTO tallies (conv, a_key, b_key, total, last_id)
    SELECT {conv_x}, min({low_x}), min({high_x}), count(*), max(x.id) FROM messages x
    WHERE x.id > :upto AND x.id <= :newest AND x.kind IS NULL GROUP BY 1
    ON CONFLICT (conv) DO UPDATE SET total = total + excluded.total, last_id = max(last_id, excluded.last_id)""")


# Each sender's marker in each conversation of the tail: at their newest message there,
# `seen` the conversation's count less the messages after it (`after`, taken from the row
# of max(id): SQLite's rule for a bare column beside one max()). A marker already higher
# (read further since) stays.
_MOVE_SENDERS = sqlite_statement("""INSERT INTO markers (user_key, conv, up_to, seen)
    SELECT s.who, s.conv, s.up_to, t.total - s.after FROM (
        SELECT who, conv, max(id) AS up_to, after FROM (
            SELECT x.from_key AS who, {conv_x} AS conv, x.id,
                   row_number() OVER (PARTITION BY {conv_x} ORDER BY x.id DESC) - 1 AS after
            FROM messages x WHERE x.id > :upto AND x.id <= :newest AND x.kind IS NULL)
        GROUP BY who, conv) s
    JOIN tallies t ON t.conv = s.conv WHERE true
    ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, seen = excluded.seen
    WHERE excluded.up_to > markers.up_to""")


def counted_upto(conn):
    """The id up to which every message is in the tallies and has moved its sender's marker."""
    return conn.execute("SELECT upto FROM tallied").fetchone()[0]


def count_tail(conn, newest, waiting=1):
    """Count the messages above `tallied.upto` up to the id `newest` (the newest stored),
    if at least `waiting` ids lie between; inside the writer's transaction."""
    upto = counted_upto(conn)
    if newest - upto < waiting:
        return
    bounds = {"upto": upto, "newest": newest}
    conn.execute(_COUNT, bounds)
    conn.execute(_MOVE_SENDERS, bounds)
    conn.execute("UPDATE tallied SET upto = ?", (newest,))
