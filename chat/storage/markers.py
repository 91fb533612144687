"""Read markers and unread counts, as the stores keep them (SQLite and PostgreSQL alike).

Counting a conversation's unread rows on every call would grow with its history, so the
counts are kept as the messages are written: by triggers on `messages` (every write
path keeps them right, whichever code wrote), but for SQLite's messages, which its
writer counts behind the commit, in bulk (sqlite/tallies.py):

- `tallies`: one row per conversation (`conv`: '' for the group, '#' and the key for a
  room, 'a#b' for the direct conversation of the keys a <= b, compared as bytes), with
  how many messages it ever had (`total`), its newest event (`last_id`) and how many of
  its oldest messages retention pruned (`pruned`).
- `markers`: a user's marker in a conversation (`up_to`, an id) and `seen`, how many of
  the conversation's messages ever stored lie at or below it (the pruned ones included).
- `removed`: the deleted messages (a deleted message is not unread).

Then unread = total - max(seen, pruned) - (deleted messages above up_to): a few index
lookups per conversation, however long the history. One's own messages are never
unread: sending moves one's marker to the message, as does joining a room
(to the room's newest), and a new account's group marker starts at the group's newest.
Moving a marker below the conversation's newest event counts the messages above it
once (`MarkerStore._seen_at`). Reading the list counts nothing (SQLite first counts the
short tail of its newest messages).
"""

from typing import NamedTuple

from ..protocol.names import name_key

# A row's conversation, `{r}` the row (NEW, OLD, an alias), `{c}` the collation that
# compares as bytes (empty for SQLite, whose default does).
_CONV = ("(CASE WHEN {r}.room_key IS NOT NULL THEN '#' || {r}.room_key WHEN {r}.to_key IS NULL THEN '' "
         "WHEN {r}.from_key{c} < {r}.to_key THEN {r}.from_key || '#' || {r}.to_key "
         "ELSE {r}.to_key || '#' || {r}.from_key END)")
_LOW = "(CASE WHEN {r}.room_key IS NULL AND {r}.to_key IS NOT NULL THEN " \
       "CASE WHEN {r}.from_key{c} < {r}.to_key THEN {r}.from_key ELSE {r}.to_key END END)"
_HIGH = "(CASE WHEN {r}.room_key IS NULL AND {r}.to_key IS NOT NULL THEN " \
        "CASE WHEN {r}.from_key{c} < {r}.to_key THEN {r}.to_key ELSE {r}.from_key END END)"
# An erased account's direct-message stub names keys no account can hold ('#...').
_NOT_STUB = "({r}.to_key IS NULL OR {r}.to_key NOT LIKE '#%')"

PG_BYTES = ' COLLATE "C"'

# What _fill puts in for each store: the byte-order collation, the integer type, the
# table option.
_SQLITE = ("", "INTEGER", " WITHOUT ROWID")
_POSTGRESQL = (PG_BYTES, "BIGINT", "")


def conv_sql(row, collate=""):
    """The SQL expression of the conversation key of `row`."""
    return _CONV.format(r=row, c=collate)


def conversation_key(me, with_key=None, room_key=None):
    """The conversation key (as conv_sql computes it) of a room, else of the direct
    conversation of the keys `me` and `with_key`, else (both None) of the group."""
    if room_key is not None:
        return "#" + room_key
    if with_key is None:
        return ""
    low, high = sorted((me, with_key))  # code points: the order of UTF-8 bytes
    return f"{low}#{high}"


_TABLES = [
    """CREATE TABLE tallies (conv TEXT{c} PRIMARY KEY, a_key TEXT, b_key TEXT, total {integer} NOT NULL,
       last_id {integer} NOT NULL, pruned {integer} NOT NULL DEFAULT 0){rowid}""",
    "CREATE INDEX tallies_a ON tallies (a_key) WHERE a_key IS NOT NULL",
    "CREATE INDEX tallies_b ON tallies (b_key) WHERE b_key IS NOT NULL",
    """CREATE TABLE markers (user_key TEXT NOT NULL, conv TEXT{c} NOT NULL, up_to {integer} NOT NULL,
       seen {integer} NOT NULL, PRIMARY KEY (user_key, conv)){rowid}""",
    "CREATE TABLE removed (conv TEXT{c} NOT NULL, id {integer} NOT NULL, PRIMARY KEY (conv, id)){rowid}",
]


# Today's rows: every conversation its tally, every deleted message its row, and every
# marker "present" (nothing unread after the upgrade).
_BACKFILL = [
    """INSERT INTO tallies (conv, a_key, b_key, total, last_id, pruned)
       SELECT {conv_x}, min({low_x}), min({high_x}), sum(CASE WHEN x.kind IS NULL THEN 1 ELSE 0 END), max(x.id), 0
       FROM messages x WHERE {not_stub_x} GROUP BY {conv_x}""",
    """INSERT INTO removed (conv, id) SELECT {conv_x}, x.id FROM messages x
       WHERE x.kind IS NULL AND x.msg = '' AND {not_stub_x}""",
    """INSERT INTO markers (user_key, conv, up_to, seen) SELECT u.key, t.conv, t.last_id, t.total
       FROM users u JOIN tallies t ON t.conv = ''""",
    """INSERT INTO markers (user_key, conv, up_to, seen) SELECT m.user_key, t.conv, t.last_id, t.total
       FROM members m JOIN tallies t ON t.conv = '#' || m.room_key""",
    """INSERT INTO markers (user_key, conv, up_to, seen) SELECT a_key, conv, last_id, total FROM tallies
       WHERE a_key IS NOT NULL UNION SELECT b_key, conv, last_id, total FROM tallies WHERE b_key IS NOT NULL""",
]


# The triggers, SQLite's (schema 10 drops the first: sqlite/tallies.py counts its
# messages since). A message: counted, and its sender's marker moved to it. Any
# other event: the newest of its conversation; a join moves the joiner's marker to the
# room's newest. A message blanked (a delete, an erasure): removed. A message deleted
# (retention, which takes the oldest; an erasure, which drops the tallies): pruned.
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER tally_message AFTER INSERT ON messages WHEN NEW.kind IS NULL BEGIN
       INSERT INTO tallies (conv, a_key, b_key, total, last_id) VALUES ({conv_new}, {low_new}, {high_new}, 1, NEW.id)
           ON CONFLICT (conv) DO UPDATE SET total = total + 1, last_id = NEW.id;
       INSERT INTO markers (user_key, conv, up_to, seen)
           SELECT NEW.from_key, conv, NEW.id, total FROM tallies WHERE conv = {conv_new}
           ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, seen = excluded.seen;
       END""",
    """CREATE TRIGGER tally_event AFTER INSERT ON messages WHEN NEW.kind IS NOT NULL BEGIN
       INSERT INTO tallies (conv, a_key, b_key, total, last_id) VALUES ({conv_new}, {low_new}, {high_new}, 0, NEW.id)
           ON CONFLICT (conv) DO UPDATE SET last_id = NEW.id;
       INSERT INTO markers (user_key, conv, up_to, seen)
           SELECT NEW.to_key, conv, NEW.id, total FROM tallies WHERE conv = {conv_new} AND NEW.kind = 'member'
           AND NEW.msg = 'join'
           ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, seen = excluded.seen
           WHERE excluded.up_to > markers.up_to;
       END""",
    """CREATE TRIGGER tally_blanked AFTER UPDATE OF msg ON messages
       WHEN NEW.kind IS NULL AND NEW.msg = '' AND OLD.msg <> '' AND {not_stub_new} BEGIN
       INSERT OR IGNORE INTO removed (conv, id) VALUES ({conv_new}, NEW.id);
       END""",
    """CREATE TRIGGER tally_pruned AFTER DELETE ON messages WHEN OLD.kind IS NULL BEGIN
       UPDATE tallies SET pruned = pruned + 1 WHERE conv = {conv_old};
       DELETE FROM removed WHERE conv = {conv_old} AND id = OLD.id;
       END""",
    """CREATE TRIGGER newcomer AFTER INSERT ON users BEGIN
       INSERT INTO markers (user_key, conv, up_to, seen) SELECT NEW.key, conv, last_id, total FROM tallies
           WHERE conv = '' ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, seen = excluded.seen;
       END""",
]


# PostgreSQL's, the same rules (AFTER INSERT: a repeated cid's INSERT ... ON CONFLICT DO
# NOTHING counts nothing).
_PG_TRIGGERS = [
    """CREATE FUNCTION chat_tally() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE n BIGINT; BEGIN
       INSERT INTO tallies AS t (conv, a_key, b_key, total, last_id)
           VALUES ({conv_new}, {low_new}, {high_new}, CASE WHEN NEW.kind IS NULL THEN 1 ELSE 0 END, NEW.id)
           ON CONFLICT (conv) DO UPDATE SET total = t.total + excluded.total, last_id = excluded.last_id
           RETURNING total INTO n;
       IF NEW.kind IS NULL THEN
           INSERT INTO markers AS m (user_key, conv, up_to, seen) VALUES (NEW.from_key, {conv_new}, NEW.id, n)
               ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, seen = excluded.seen;
       ELSIF NEW.kind = 'member' AND NEW.msg = 'join' THEN
           INSERT INTO markers AS m (user_key, conv, up_to, seen)
               SELECT NEW.to_key, conv, NEW.id, total FROM tallies WHERE conv = {conv_new}
               ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, seen = excluded.seen
               WHERE excluded.up_to > m.up_to;
       END IF;
       RETURN NULL; END $$""",
    "CREATE TRIGGER tally AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION chat_tally()",
    """CREATE FUNCTION chat_blanked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
       INSERT INTO removed (conv, id) VALUES ({conv_new}, NEW.id) ON CONFLICT DO NOTHING;
       RETURN NULL; END $$""",
    """CREATE TRIGGER blanked AFTER UPDATE OF msg ON messages FOR EACH ROW
       WHEN (NEW.kind IS NULL AND NEW.msg = '' AND OLD.msg <> '' AND {not_stub_new}) EXECUTE FUNCTION chat_blanked()""",
    """CREATE FUNCTION chat_pruned() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
       UPDATE tallies SET pruned = pruned + 1 WHERE conv = {conv_old};
       DELETE FROM removed WHERE conv = {conv_old} AND id = OLD.id;
       RETURN NULL; END $$""",
    """CREATE TRIGGER pruned AFTER DELETE ON messages FOR EACH ROW WHEN (OLD.kind IS NULL)
       EXECUTE FUNCTION chat_pruned()""",
    """CREATE FUNCTION chat_newcomer() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
       INSERT INTO markers AS m (user_key, conv, up_to, seen) SELECT NEW.key, conv, last_id, total FROM tallies
           WHERE conv = '' ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, seen = excluded.seen;
       RETURN NULL; END $$""",
    "CREATE TRIGGER newcomer AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION chat_newcomer()",
]


def _fill(statement, collate, integer, rowid):
    names = {}
    for row in ("x", "NEW", "OLD"):
        suffix = row.lower()
        names[f"conv_{suffix}"] = _CONV.format(r=row, c=collate)
        names[f"low_{suffix}"] = _LOW.format(r=row, c=collate)
        names[f"high_{suffix}"] = _HIGH.format(r=row, c=collate)
        names[f"not_stub_{suffix}"] = _NOT_STUB.format(r=row)
    return statement.format(c=collate, integer=integer, rowid=rowid, **names)


def sqlite_statement(statement):
    """`statement` for SQLite, its {conv_x}, {low_x}, {high_x} and {not_stub_x} filled in
    with the expressions for the row `x` (and the same for NEW and OLD)."""
    return _fill(statement, *_SQLITE)


def migrate_markers(conn, postgresql=False):
    """Add the tallies, markers and removed messages, fill them from today's rows (every
    marker at its conversation's newest), and the triggers that keep them; inside the
    caller's transaction."""
    dialect = _POSTGRESQL if postgresql else _SQLITE
    triggers = _PG_TRIGGERS if postgresql else _SQLITE_TRIGGERS
    for statement in [*_TABLES, *_BACKFILL, *triggers]:
        conn.execute(_fill(statement, *dialect))


class Conversation(NamedTuple):
    """One conversation of a user's list: `room` (a room's name), else `peer` (the other
    user of a direct conversation), else the group; the counts as GET /api/conversations
    gives them (`peer_read_up_to` for a direct one only)."""

    room: str | None
    peer: str | None
    last_id: int
    read_up_to: int
    unread: int
    peer_read_up_to: int | None


# The caller's conversations: the group, their rooms, their direct ones; each with its
# tally, their marker, the deleted messages above it, and the peer's marker.
_CONVERSATIONS = """
WITH mine (conv, room_key, peer) AS (
    SELECT '', CAST(NULL AS TEXT), CAST(NULL AS TEXT)
    UNION ALL SELECT '#' || room_key, room_key, CAST(NULL AS TEXT) FROM members WHERE user_key = :me
    UNION ALL SELECT conv, CAST(NULL AS TEXT), b_key FROM tallies WHERE a_key = :me
    UNION ALL SELECT conv, CAST(NULL AS TEXT), a_key FROM tallies WHERE b_key = :me AND a_key <> :me)
SELECT r.name, u.name, coalesce(t.total, 0), coalesce(t.last_id, 0), coalesce(t.pruned, 0),
    coalesce(m.up_to, 0), coalesce(m.seen, 0),
    (SELECT count(*) FROM removed x WHERE x.conv = mine.conv AND x.id > coalesce(m.up_to, 0)),
    mine.peer, p.up_to
FROM mine LEFT JOIN tallies t ON t.conv = mine.conv
    LEFT JOIN markers m ON m.user_key = :me AND m.conv = mine.conv
    LEFT JOIN markers p ON p.user_key = mine.peer AND p.conv = mine.conv
    LEFT JOIN rooms r ON r.key = mine.room_key
    LEFT JOIN users u ON u.key = mine.peer"""


def _conversation(row):
    room, peer, total, last_id, pruned, up_to, seen, removed, peer_key, peer_up_to = row
    unread = max(0, total - max(seen, pruned) - removed)
    return Conversation(room, peer, last_id, up_to, unread, (peer_up_to or 0) if peer_key is not None else None)


class MarkerStore:
    """The read-marker operations of Store (mixed into it)."""

    def read_up_to(self, user, up_to, other=None, room=None):
        """Move `user`'s marker in the room `room`, else the direct conversation with
        `other`, else (both None) the group, to `up_to` if that is further: (the marker
        now, whether it moved), or None when `up_to` is above the newest id stored.
        Whether `user` may see the conversation is the caller's to check."""
        me = name_key(user)
        other_key = name_key(other) if other is not None else None
        room_key = name_key(room) if room is not None else None
        conv = conversation_key(me, other_key, room_key)
        seen = self._timed_read(self._in_snapshot, self._seen_at, conv, up_to,
                                {"me": me, "other": other_key, "room": room_key})
        if seen is None:
            return None
        return self._write(self._move_marker, me, conv, up_to, seen)

    def conversations(self, user):
        """`user`'s conversations (see Conversation), newest activity first."""
        self._count_every_message()
        rows = self._timed_read(self._conversations, name_key(user))
        found = [_conversation(row) for row in rows if row[0] is not None or row[1] is not None or row[8] is None]
        return sorted(found, key=lambda c: c.last_id, reverse=True)

    # -- the operations, on a connection --------------------------------

    @classmethod
    def _conversations(cls, conn, me):
        return conn.execute(cls._sql(_CONVERSATIONS), {"me": me}).fetchall()

    def _count_every_message(self):
        """Bring the tallies up to the newest message stored (a store that counts
        behind the commit says how); they are already in every other store."""

    @classmethod
    def _seen_at(cls, conn, conv, up_to, params):
        """How many messages of `conv` ever stored lie at or below `up_to` (0 for none);
        None when `up_to` is above the newest id. Every id up to the newest is committed.
        Run in one snapshot (see _in_snapshot): the tally and the counts must agree."""
        newest = cls._last_id(conn)
        if up_to > newest:
            return None
        counted = cls._counted_upto(conn, newest)
        tally = conn.execute(cls._sql("SELECT total, last_id FROM tallies WHERE conv = :conv"),
                             {"conv": conv}).fetchone()
        total, last_id = tally if tally is not None else (0, 0)
        if up_to > counted:  # in the tail not counted yet (sqlite/tallies.py): a short scan
            return total + cls._count_between(conn, counted, up_to, params)
        if up_to >= last_id:
            return total  # the usual case: read up to the newest
        # Retention prunes the oldest messages only: those above up_to are all still there.
        return total - cls._count_between(conn, up_to, counted, params)

    @classmethod
    def _counted_upto(cls, conn, newest):
        """The id up to which every message is in the tallies: in a store that counts as
        it stores, `newest`, the newest id stored."""
        return newest

    @classmethod
    def _count_between(cls, conn, low, high, params):
        """How many messages with an id above `low` and up to `high` the conversation
        `params` names has."""
        if params["room"] is not None:
            where = "room_key = :room"
        elif params["other"] is None:
            where = "to_key IS NULL AND room_key IS NULL"
        else:
            where = ("room_key IS NULL AND ((from_key = :me AND to_key = :other) "
                     "OR (from_key = :other AND to_key = :me))")
        return conn.execute(cls._sql("SELECT count(*) FROM messages WHERE id > :low AND id <= :high "
                                     f"AND kind IS NULL AND {where}"),
                            {**params, "low": low, "high": high}).fetchone()[0]

    @classmethod
    def _in_snapshot(cls, conn, operation, *args):
        """`operation(conn, *args)` in one read-only snapshot of the database (each store says how)."""
        raise NotImplementedError

    @classmethod
    def _move_marker(cls, conn, me, conv, up_to, seen):  # pylint: disable=too-many-arguments
        found = conn.execute(cls._sql("SELECT up_to FROM markers WHERE user_key = :me AND conv = :conv"),
                             {"me": me, "conv": conv}).fetchone()
        if found is not None and found[0] >= up_to:
            return found[0], False
        if found is None and up_to == 0:
            return 0, False
        conn.execute(cls._sql("INSERT INTO markers (user_key, conv, up_to, seen) VALUES (:me, :conv, :up_to, :seen) "
                              "ON CONFLICT (user_key, conv) DO UPDATE SET up_to = excluded.up_to, "
                              "seen = excluded.seen"), {"me": me, "conv": conv, "up_to": up_to, "seen": seen})
        return up_to, True

    @classmethod
    def _erase_markers(cls, conn, key):
        """An account is erased: its markers go, and its direct conversations' counts and
        markers (they are gone for both sides); inside the caller's transaction."""
        pairs = "SELECT conv FROM tallies WHERE a_key = :key OR b_key = :key"
        conn.execute(cls._sql(f"DELETE FROM markers WHERE user_key = :key OR conv IN ({pairs})"), {"key": key})
        conn.execute(cls._sql(f"DELETE FROM removed WHERE conv IN ({pairs})"), {"key": key})
        conn.execute(cls._sql("DELETE FROM tallies WHERE a_key = :key OR b_key = :key"), {"key": key})

