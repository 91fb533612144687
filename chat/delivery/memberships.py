"""Who is in which room, as this process last read it from the log.

Every membership change is a member event in the log, and the log follower hands
this process each event once and in id order: applying them as they pass keeps this
copy exactly as current as the deliveries it decides. A join on another worker is
applied here before any later message of the room is delivered here, whatever the
broker lost. It starts from the store's members table (`load`); events the table
already held, read again after, only repeat what it says.
"""

import collections

from ..errors import FrameRejected
from ..protocol.names import name_key
from ..protocol.server_frames import MEMBER


class Memberships:
    """Room key -> member keys, and the reverse; room key -> the room's display name."""

    def __init__(self):
        self._members = collections.defaultdict(set)
        self._rooms_of = collections.defaultdict(set)
        self._names = {}

    def load(self, rows):
        """Start from (room key, room name, user key) rows (Store.memberships)."""
        for room_key, room, user_key in rows:
            self._names[room_key] = room
            self._add(room_key, user_key)

    def apply(self, record):
        """Follow one event of the log: a member event changes who is in its room."""
        if record.kind != MEMBER or not record.to_user:
            return
        room_key, user_key = name_key(record.room), name_key(record.to_user)
        self._names[room_key] = record.room
        if record.msg == "join":
            self._add(room_key, user_key)
        else:
            self._discard(room_key, user_key)

    def forget_user(self, user):
        """`user`'s account was erased: it is in no room any more."""
        user_key = name_key(user)
        for room_key in self._rooms_of.pop(user_key, ()):
            self._members[room_key].discard(user_key)

    def members(self, room):
        """The keys of `room`'s members (a live set: do not change it)."""
        return self._members.get(name_key(room), frozenset())

    def co_members(self, user_key):
        """The keys of everyone in a room with the user whose key is `user_key` (theirs too)."""
        rooms = self._rooms_of.get(user_key, ())
        return set().union(*(self._members[room_key] for room_key in rooms)) if rooms else set()

    def rooms_members(self, user_key):
        """The member-key sets of the rooms the user whose key is `user_key` is in (live sets: do not change them)."""
        return [self._members[room_key] for room_key in self._rooms_of.get(user_key, ())]

    def is_member(self, room, user):
        """True when `user` is in `room` as far as this process has read."""
        return name_key(user) in self._members.get(name_key(room), ())

    def room_to_speak_in(self, store, user, room, cid=None):
        """The display name of `room` when `user` is in it; FrameRejected (unknown_room,
        not_member) when not. This copy answers for a member; the store for the rest,
        since a join may have been stored where this process has not read it yet."""
        if self.is_member(room, user):
            return self.name(room)
        found = store.room(room, user)
        if found is None:
            raise FrameRejected("unknown_room", f"there is no room called {room}", cid)
        if not found.member:
            raise FrameRejected("not_member", f"join {found.name} first", cid)
        return found.name

    def name(self, room):
        """`room`'s display name, when this process has seen it."""
        return self._names.get(name_key(room))

    def _add(self, room_key, user_key):
        self._members[room_key].add(user_key)
        self._rooms_of[user_key].add(room_key)

    def _discard(self, room_key, user_key):
        self._members[room_key].discard(user_key)
        self._rooms_of[user_key].discard(room_key)
