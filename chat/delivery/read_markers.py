"""Read markers: moved in the store, then told to the user's connections (and a direct
conversation's peer) on every worker and host, through the broker.

The marker itself is durable (the store keeps it and never moves it back); a read frame
only tells the connections open now, so a lost one costs nothing that GET
/api/conversations does not give back.
"""

from ..errors import FrameRejected
from ..protocol import server_frames
from ..protocol.names import name_key
from ..protocol.outgoing import Outgoing


class ReadMarkers:
    """Moves markers as users read, and delivers the read frames published by any process."""

    def __init__(self, store, registry, memberships, broker):
        self.store = store
        self.registry = registry
        self.memberships = memberships
        self.broker = broker

    def move(self, user, conversation, up_to):
        """`user` has read `conversation` up to the id `up_to`: move the marker if that is
        further, and tell their connections (and the peer's) everywhere. Returns the marker
        now. Raises FrameRejected: bad_message above the newest id, unknown_user,
        unknown_room, not_member."""
        room, other = self._check(user, conversation)
        moved = self.store.read_up_to(user, up_to, other=other, room=room)
        if moved is None:
            raise FrameRejected("bad_message", f"up_to {up_to} is above the newest id stored "
                                               f"({self.store.last_id()})")
        marker, changed = moved
        if changed:
            event = {"kind": "read", "user": user, "up_to": marker}
            if room is not None:
                event["room"] = room
            else:
                event["with"] = other if other is not None else "*"
            self.broker.publish(event)
        return marker

    def _check(self, user, conversation):
        """(room, other user) of `conversation` as first spelled, both None for the group."""
        if conversation.room is not None:
            return self.memberships.room_to_speak_in(self.store, user, conversation.room), None
        if conversation.with_user == "*":
            return None, None
        name = self.store.display_name(conversation.with_user)
        if name is None:
            raise FrameRejected("unknown_user", f"nobody called {conversation.with_user} has logged in")
        return None, name

    def deliver(self, event, fanout):
        """A published marker: to the user's connections here, and for a direct
        conversation the same frame to the peer's."""
        user = event["user"]
        frame = server_frames.read(user, event["up_to"], event.get("with"), event.get("room"))
        conns = list(self.registry.sockets_of(user))
        peer = event.get("with")
        if peer not in (None, "*") and name_key(peer) != name_key(user):
            conns += self.registry.sockets_of(peer)
        fanout.send(conns, Outgoing.of(frame))
