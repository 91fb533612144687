"""Typing notices: checked and throttled where they are sent, relayed by the broker, never stored.

They are ephemeral: a lost one costs nothing, so they travel only through the broker
(every worker and host hears it) and the sender's worker asks the store nothing for
them, but once per unknown name, as a message would (Store.display_name keeps the answer).
"""

from ..errors import FrameRejected
from ..protocol.names import name_key
from ..protocol.outgoing import Outgoing
from .rate_limits import TokenBuckets


class Typing:
    """Passes on at most one notice per sender and conversation every CHAT_TYPING_INTERVAL."""

    def __init__(self, settings, store, registry, memberships, broker, presence):  # pylint: disable=too-many-arguments
        self.settings = settings
        self.store = store
        self.registry = registry
        self.memberships = memberships
        self.broker = broker
        self.presence = presence
        self._passed = TokenBuckets(1 / settings.typing_interval, 1)

    def relay(self, user, conversation):
        """`user` is typing in `conversation`: tell its other participants, everywhere.

        Raises FrameRejected (unknown_user, unknown_room, not_member); a notice within the
        interval of the last one passed on is dropped silently.
        """
        where = self._check(user, conversation)
        if not self._passed.take((name_key(user), where)):
            return
        if where == "*" and self.presence.count() > self.settings.presence_limit:
            return  # the group past the limit: nobody follows a crowd's typing
        event = {"kind": "typing", "user": user}
        event["room" if conversation.room is not None else "with"] = where
        self.broker.publish(event)

    def _check(self, user, conversation):
        """The display name of the room or user `conversation` names ("*" for the group)."""
        if conversation.room is not None:
            return self.memberships.room_to_speak_in(self.store, user, conversation.room)
        if conversation.with_user == "*":
            return "*"
        name = self.store.display_name(conversation.with_user)
        if name is None:
            raise FrameRejected("unknown_user", f"nobody called {conversation.with_user} has logged in")
        return name

    def deliver(self, event, fanout):
        """A published notice: to the connections here of the conversation's other participants."""
        user = event["user"]
        if "room" in event:
            frame = {"type": "typing", "user": user, "room": event["room"]}
            conns = self.registry.sockets_among(self.memberships.members(event["room"]))
        else:
            frame = {"type": "typing", "user": user, "with": event["with"]}
            conns = (self.registry.all_sockets() if event["with"] == "*"
                     else self.registry.sockets_of(event["with"]))
        mine = set(self.registry.sockets_of(user))
        fanout.send([conn for conn in conns if conn not in mine], Outgoing.of(frame))

