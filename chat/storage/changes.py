"""Edits and deletes of messages, as the stores keep them (SQLite and PostgreSQL alike).

An edit or a delete is an event of the log with an id of its own (kind 'edit' or
'delete', the message's id in of_id), addressed as the message was, so it reaches the
same audience; the message itself is changed in place, so every read serves it as it is
now. A delete blanks the message and the text of its edits: the stores then see to it
that no file keeps the old text (SqliteStore.erase_soon, PostgresStore.erase_soon).

The checks (the message is there, not deleted, the sender's) run inside the commit's
transaction, so two changes of one message are applied one after the other.
"""

import time

from ..protocol.names import name_key
from ..protocol.server_frames import EDIT, Message
from .queries import COLUMNS

MIGRATION = """
    ALTER TABLE messages ADD COLUMN of_id INTEGER;
    ALTER TABLE messages ADD COLUMN edited {real};
    CREATE INDEX messages_of ON messages (of_id) WHERE of_id IS NOT NULL"""


def migrate_changes(conn, real):
    """Add the columns of edits and deletes; inside the caller's transaction."""
    for statement in MIGRATION.format(real=real).split(";"):
        conn.execute(statement)


_ORIGINAL = """SELECT id, from_key, from_user, to_key, to_user, msg, room_key, room,
    room_key IS NOT NULL AND EXISTS (SELECT 1 FROM members WHERE room_key = m.room_key AND user_key = :by_key)
    FROM messages m WHERE id = :of AND kind IS NULL"""


_EVENT = """INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts, cid, room_key, room, kind, of_id)
    VALUES (:by_key, :from_user, :to_key, :to_user, :msg, :now, :cid, :room_key, :room, :kind, :of)"""


class ChangeStore:
    """The edit and delete operations of Store (mixed into it)."""

    def queue_change(self, user, kind, of, msg, cid, outcome=None):  # pylint: disable=too-many-arguments
        """Queue an edit (`msg`: the new text) or a delete of message `of` by `user` for the
        next commit. Its outcome is (the event, created), or (None, "not_found" or
        "forbidden") when it was refused; a repeated cid gives the event stored with it."""
        change = {"by_key": name_key(user), "kind": kind, "of": of, "msg": msg if kind == EDIT else "",
                  "cid": cid, "now": time.time()}
        return self._commits.submit(self._change_message, change, outcome=outcome)

    @classmethod
    def _change_message(cls, conn, change):
        if change["cid"] is not None:
            repeated = conn.execute(cls._sql(f"SELECT {COLUMNS} FROM messages "
                                             "WHERE from_key = :by_key AND cid = :cid"), change).fetchone()
            if repeated is not None:
                return Message(*repeated), False
        original = conn.execute(cls._sql(_ORIGINAL), change).fetchone()
        refusal = _refusal(original, change["by_key"])
        if refusal:
            return None, refusal
        _, _, from_user, to_key, to_user, _, room_key, room, _ = original
        params = {**change, "from_user": from_user, "to_key": to_key, "to_user": to_user,
                  "room_key": room_key, "room": room}
        event_id = cls._insert_returning_id(conn, _EVENT, params)
        if change["kind"] == EDIT:
            conn.execute(cls._sql("UPDATE messages SET msg = :msg, edited = :now WHERE id = :of"), change)
        else:
            conn.execute(cls._sql("UPDATE messages SET msg = '' WHERE id = :of OR (of_id = :of AND kind = 'edit')"),
                         change)
        return Message(event_id, from_user, to_user, params["msg"], change["now"], room, change["kind"],
                       change["of"]), True

def _refusal(original, by_key):
    """Why `by_key` may not change the message `original` (a row of _ORIGINAL); None if it may.

    A message the user cannot see is not_found, as one that is not there: the answer
    tells nothing of others' conversations. One they see but did not send is forbidden.
    """
    if original is None or not original[5]:
        return "not_found"
    _, from_key, _, to_key, _, _, room_key, _, in_room = original
    if from_key == by_key:
        return None
    visible = (bool(in_room) if room_key is not None else to_key is None or to_key == by_key)
    return "forbidden" if visible else "not_found"
