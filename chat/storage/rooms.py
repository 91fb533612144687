"""Rooms and their members, as the stores keep them (SQLite and PostgreSQL alike).

A room is a row of `rooms`, keyed like a user by the case fold of its name, in a
namespace of its own; its members are rows of `members`. Every change of membership
is also a member event in `messages`, in the one id sequence: kind 'member', the
room's key in room_key, its subject in to_key, who did it in from_key, and 'join' or
'leave' as its msg. A room's messages carry room_key too. Who sees what follows the
current members (base.VISIBLE).

The changes run inside the group commit's transaction, one writer at a time, so a
check (the name is free, the room is not full) and the change cannot race another host.
"""

import time
from typing import NamedTuple

from ..protocol.names import name_key
from ..protocol.server_frames import MEMBER, Message
from ..protocol.unicode_security import new_name_problem, skeleton

MIGRATION = """
    ALTER TABLE messages ADD COLUMN room_key TEXT;
    ALTER TABLE messages ADD COLUMN room TEXT;
    ALTER TABLE messages ADD COLUMN kind TEXT;
    CREATE TABLE rooms (key TEXT PRIMARY KEY, name TEXT NOT NULL, skeleton TEXT NOT NULL,
                        private INTEGER NOT NULL, topic TEXT NOT NULL, created_by TEXT NOT NULL,
                        created {real} NOT NULL);
    CREATE INDEX rooms_skeleton ON rooms (skeleton);
    CREATE TABLE members (room_key TEXT NOT NULL, user_key TEXT NOT NULL, PRIMARY KEY (room_key, user_key));
    CREATE INDEX members_user ON members (user_key)"""


def migrate_rooms(conn, real, extra=()):
    """Add rooms, members and the room columns of messages; inside the caller's transaction."""
    for statement in [*MIGRATION.format(real=real).split(";"), *extra]:
        conn.execute(statement)


class Room(NamedTuple):
    """A room as one user sees it: `member` says whether that user is in it."""

    key: str
    name: str
    private: bool
    topic: str
    created_by: str
    members: int
    member: bool


_ROOM = """SELECT r.key, r.name, r.private, r.topic, r.created_by,
    (SELECT count(*) FROM members c WHERE c.room_key = r.key),
    EXISTS (SELECT 1 FROM members m WHERE m.room_key = r.key AND m.user_key = :me)
    FROM rooms r"""


def _room_of(row):
    """The Room of a row of _ROOM (the stores give 0/1 or booleans for its flags)."""
    key, name, private, topic, created_by, members, member = row
    return Room(key, name, bool(private), topic, created_by, members, bool(member))


_EVENT = """INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts, room_key, room, kind)
    VALUES (:by_key, :by, :user_key, :user, :msg, :now, :room_key, :room, :kind)"""


class RoomStore:
    """The room operations of Store (mixed into it). Changes answer (outcome, Room or
    None, member event or None): outcome "ok" when something changed, "same" when
    nothing had to, else the refusal's error code."""

    # -- changes ----------------------------------------------------------

    def create_room(self, name, by, private, topic, max_rooms):  # pylint: disable=too-many-arguments
        """Create room `name` with `by` as its first member."""
        change = {**self._change(name, by), "skeleton": skeleton(name), "problem": new_name_problem(name),
                  "private": int(bool(private)), "topic": topic, "max_rooms": max_rooms}
        return self._write(self._create_room, change)

    def join_room(self, name, user, by, max_rooms, max_members):  # pylint: disable=too-many-arguments
        """Make `user` a member of room `name`: joining it (`by` is `user`) or added by `by`."""
        change = {**self._change(name, by), "user": user, "user_key": name_key(user),
                  "max_rooms": max_rooms, "max_members": max_members}
        return self._write(self._join_room, change)

    def leave_room(self, name, user):
        """`user` leaves room `name`."""
        return self._write(self._leave_room, self._change(name, user))

    def set_topic(self, name, by, topic):
        """Set room `name`'s topic; `by` must be a member."""
        return self._write(self._set_topic, {**self._change(name, by), "topic": topic})

    @staticmethod
    def _change(name, by):
        return {"room": name, "room_key": name_key(name), "by": by, "by_key": name_key(by), "now": time.time()}

    # -- reads ------------------------------------------------------------

    def room(self, name, viewer):
        """Room `name` as `viewer` sees it; None when there is none, or it is private and
        `viewer` is not in it (to them it does not exist)."""
        return self._timed_read(self._visible_room, name_key(name), name_key(viewer))

    def rooms(self, viewer):
        """Every public room and every private room `viewer` is in, by name."""
        return self._timed_read(self._rooms, name_key(viewer))

    def room_members(self, name):
        """The display names of room `name`'s members, by name."""
        return self._timed_read(self._room_members, name_key(name))

    def memberships(self):
        """Every (room key, room name, user key) of every room: what a process starts its cache from."""
        return self._timed_read(self._memberships)

    # -- the operations, on a connection inside the commit's transaction --

    @classmethod
    def _room_row(cls, conn, key, me):
        row = conn.execute(cls._sql(f"{_ROOM} WHERE r.key = :key"), {"key": key, "me": me}).fetchone()
        return _room_of(row) if row else None

    @classmethod
    def _visible_room(cls, conn, key, me):
        room = cls._room_row(conn, key, me)
        return room if room is not None and (room.member or not room.private) else None

    @classmethod
    def _rooms(cls, conn, me):
        rows = conn.execute(cls._sql(f"{_ROOM} WHERE r.private = 0 OR r.key IN "
                                     "(SELECT room_key FROM members WHERE user_key = :me)"), {"me": me}).fetchall()
        return sorted((_room_of(row) for row in rows), key=lambda room: room.key)

    @classmethod
    def _room_members(cls, conn, key):
        rows = conn.execute(cls._sql("SELECT u.key, u.name FROM members m JOIN users u ON u.key = m.user_key "
                                     "WHERE m.room_key = :key"), {"key": key}).fetchall()
        return [name for _, name in sorted(rows)]

    @classmethod
    def _insert_returning_id(cls, conn, sql, params):
        """Run the INSERT `sql`; the id of the row it made (each store says how)."""
        raise NotImplementedError

    @classmethod
    def _memberships(cls, conn):
        return conn.execute("SELECT m.room_key, r.name, m.user_key FROM members m "
                            "JOIN rooms r ON r.key = m.room_key").fetchall()

    @classmethod
    def _count(cls, conn, sql, **params):
        return conn.execute(cls._sql(sql), params).fetchone()[0]

    @classmethod
    def _is_member(cls, conn, room_key, user_key):
        return cls._count(conn, "SELECT count(*) FROM members WHERE room_key = :r AND user_key = :u",
                          r=room_key, u=user_key) > 0

    @classmethod
    def _event(cls, conn, change, user, joined):
        """Store the member event of `user` joining or leaving; the Message."""
        params = {**change, "user": user, "user_key": name_key(user), "msg": "join" if joined else "leave",
                  "kind": MEMBER}
        event_id = cls._insert_returning_id(conn, _EVENT, params)
        return Message(event_id, change["by"], user, params["msg"], change["now"], change["room"], MEMBER)

    @classmethod
    def _create_room(cls, conn, change):
        if change["problem"]:
            return "bad_name", None, None
        found = conn.execute(cls._sql("SELECT key FROM rooms WHERE key = :room_key OR skeleton = :skeleton"),
                             change).fetchone()
        if found is not None:
            return ("room_exists" if found[0] == change["room_key"] else "looks_like"), None, None
        if cls._count(conn, "SELECT count(*) FROM members WHERE user_key = :u", u=change["by_key"]) \
                >= change["max_rooms"]:
            return "too_many_rooms", None, None
        conn.execute(cls._sql("INSERT INTO rooms (key, name, skeleton, private, topic, created_by, created) "
                              "VALUES (:room_key, :room, :skeleton, :private, :topic, :by, :now)"), change)
        conn.execute(cls._sql("INSERT INTO members (room_key, user_key) VALUES (:room_key, :by_key)"), change)
        event = cls._event(conn, change, change["by"], True)
        return "ok", cls._room_row(conn, change["room_key"], change["by_key"]), event

    @classmethod
    def _access(cls, conn, change, refuse_outsider):
        """The room of `change` as its `by` sees it, or the refusal: unknown_room when it
        does not exist for them, not_member when `refuse_outsider` and they are not in it."""
        room = cls._room_row(conn, change["room_key"], change["by_key"])
        if room is None or (room.private and not room.member):
            return None, "unknown_room"
        if refuse_outsider and not room.member:
            return None, "not_member"
        change["room"] = room.name  # as first spelled, in the member event too
        return room, None

    @classmethod
    def _join_room(cls, conn, change):
        adding = change["user_key"] != change["by_key"]
        room, refusal = cls._access(conn, change, refuse_outsider=adding)
        if refusal:
            return refusal, None, None
        if adding:
            found = conn.execute(cls._sql("SELECT name FROM users WHERE key = :user_key"), change).fetchone()
            if found is None:
                return "unknown_user", None, None
            change = {**change, "user": found[0]}
            if cls._is_member(conn, change["room_key"], change["user_key"]):
                return "same", room, None
        elif room.member:
            return "same", room, None
        if cls._count(conn, "SELECT count(*) FROM members WHERE user_key = :u", u=change["user_key"]) \
                >= change["max_rooms"]:
            return "too_many_rooms", None, None
        if room.members >= change["max_members"]:
            return "room_full", None, None
        conn.execute(cls._sql("INSERT INTO members (room_key, user_key) VALUES (:room_key, :user_key)"), change)
        event = cls._event(conn, change, change["user"], True)
        return "ok", cls._room_row(conn, change["room_key"], change["by_key"]), event

    @classmethod
    def _leave_room(cls, conn, change):
        room, refusal = cls._access(conn, change, refuse_outsider=False)
        if refusal:
            return refusal, None, None
        if not room.member:
            return "same", room, None
        conn.execute(cls._sql("DELETE FROM members WHERE room_key = :room_key AND user_key = :by_key"), change)
        event = cls._event(conn, change, change["by"], False)
        return "ok", cls._room_row(conn, change["room_key"], change["by_key"]), event

    @classmethod
    def _set_topic(cls, conn, change):
        _, refusal = cls._access(conn, change, refuse_outsider=True)
        if refusal:
            return refusal, None, None
        conn.execute(cls._sql("UPDATE rooms SET topic = :topic WHERE key = :room_key"), change)
        return "ok", cls._room_row(conn, change["room_key"], change["by_key"]), None
