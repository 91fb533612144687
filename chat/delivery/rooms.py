"""Rooms as users act on them: create, join, leave, add, topic; each change stored, then delivered.

The store decides each change in one transaction (storage/rooms.py) and writes its
member event into the log; the router then delivers that event like a message, to
the room's members on every worker and host.
"""

from ..errors import RoomRefused
from ..protocol.names import NAME_RULE, name_key, normalize_name
from .rate_limits import TokenBuckets

MAX_TOPIC = 250

_REFUSALS = {
    "unknown_room": (404, "there is no room called {room}"),
    "not_member": (403, "only members of {room} may do that: join it first"),
    "room_exists": (409, "a room called {room} exists already"),
    "looks_like": (400, "{room} looks like the name of an existing room"),
    "bad_name": (400, "{room} mixes scripts (or digits of different systems) that can pass for another name"),
    "room_full": (409, "{room} has the most members a room may have ({max_members})"),
    "too_many_rooms": (429, "a user may be in at most {max_rooms} rooms"),
    "unknown_user": (404, "nobody by that name has logged in"),
}


class Rooms:
    """The room operations of the HTTP API; each returns the Room as the caller sees it,
    or raises RoomRefused with the contract's error."""

    def __init__(self, settings, store, router):
        self.settings = settings
        self.store = store
        self.router = router
        self._created = TokenBuckets(settings.rooms_per_hour / 3600, settings.rooms_per_hour)

    def create(self, user, name, private=False, topic=""):
        """Create room `name` (a name by the rules of usernames) with `user` as its first member."""
        room = _room_name(name)
        _check_topic(topic)
        if not self._created.take(name_key(user)):
            raise RoomRefused(429, "rate_limited", f"at most {self.settings.rooms_per_hour} new rooms an hour",
                              self._created.wait(name_key(user)))
        return self._done(self.store.create_room(room, user, private, topic, self.settings.max_rooms_per_user), room)

    def join(self, user, name):
        """`user` joins the public room `name` (a member already: the same answer)."""
        room = _room_name(name, refusal="unknown_room")
        return self._done(self.store.join_room(room, user, user, self.settings.max_rooms_per_user,
                                               self.settings.max_room_members), room)

    def add(self, user, name, other):
        """`user`, a member of `name`, adds the known user `other`."""
        room = _room_name(name, refusal="unknown_room")
        added = normalize_name(other) if isinstance(other, str) else None
        if added is None:
            raise RoomRefused(404, "unknown_user", "nobody by that name has logged in")
        return self._done(self.store.join_room(room, added, user, self.settings.max_rooms_per_user,
                                               self.settings.max_room_members), room)

    def leave(self, user, name):
        """`user` leaves `name` (not in a public room: the same answer)."""
        room = _room_name(name, refusal="unknown_room")
        return self._done(self.store.leave_room(room, user), room)

    def set_topic(self, user, name, topic):
        """`user`, a member, sets the topic of `name`."""
        room = _room_name(name, refusal="unknown_room")
        _check_topic(topic)
        return self._done(self.store.set_topic(room, user, topic), room)

    def get(self, user, name):
        """Room `name` as `user` sees it; unknown_room when it does not exist for them."""
        room = _room_name(name, refusal="unknown_room")
        found = self.store.room(room, user)
        if found is None:
            raise self._refusal("unknown_room", room)
        return found

    def visible(self, user):
        """Every public room and every private room `user` is in, by name."""
        return self.store.rooms(user)

    def members(self, user, name):
        """[(display name, online)] of room `name`'s members; public rooms show anyone."""
        self.get(user, name)
        online = {name_key(who) for who in self.router.online()}
        return [(member, name_key(member) in online) for member in self.store.room_members(name)]

    def readable(self, user, name):
        """The display name of the room whose messages `user` may read (members; anyone for a public room)."""
        return self.get(user, name).name

    def _done(self, outcome, room):
        """The Room of a store's answer, its member event delivered; else the refusal."""
        code, found, event = outcome
        if code not in ("ok", "same"):
            raise self._refusal(code, room)
        if event is not None:
            self.router.published(event)
        return found

    def _refusal(self, code, room):
        status, detail = _REFUSALS[code]
        return RoomRefused(status, "bad_name" if code == "looks_like" else code,
                           detail.format(room=room, max_rooms=self.settings.max_rooms_per_user,
                                         max_members=self.settings.max_room_members))


def _room_name(raw, refusal="bad_name"):
    """`raw` as a room name, NFC; RoomRefused (bad_name, or unknown_room for a room that
    is looked for) when it is none."""
    name = normalize_name(raw) if isinstance(raw, str) else None
    if name is None:
        if refusal == "unknown_room":
            raise RoomRefused(404, "unknown_room", f"there is no room called {str(raw)[:40]!r}")
        raise RoomRefused(400, "bad_name", f"a room name is {NAME_RULE}")
    return name


def _check_topic(topic):
    if not isinstance(topic, str):
        raise RoomRefused(400, "bad_request", "topic must be a string")
    if len(topic) > MAX_TOPIC:
        raise RoomRefused(400, "too_long", f"a topic has at most {MAX_TOPIC} characters; this one has {len(topic)}")
