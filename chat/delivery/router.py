"""Admission and acknowledgement: frames in, stored messages out to their audience.

Views and the transport hand frames in; the router checks them, queues them for
the group commit and has every process look at the log (publisher.py). On every
process the log follower then hands each new message, once and in id order, to
the audience's connections here (fanout.py). The sender's connection gets its
copy with the `cid`: the acknowledgement.
"""

import collections
import functools
import logging
import os

from gevent.lock import BoundedSemaphore

from .. import metrics
from ..errors import FrameRejected, TooManyConnections
from ..protocol import client_frames, server_frames
from ..protocol.names import name_key
from ..protocol.outgoing import Outgoing
from .address_limits import NOT_HELD, AddressLimits
from .fanout import Fanout
from .greeting import Greeting
from .log_follower import LogFollower
from .memberships import Memberships
from .people import People
from .publisher import Publisher
from .rate_limits import TokenBuckets
from .read_markers import ReadMarkers
from .typing import Typing

log = logging.getLogger(__name__)

PIPELINE = 32  # messages of one connection queued for commit at once
STORAGE_FAILED = "the message could not be stored; send it again"
SIGNED_OUT = "the password changed: log in again"
CHANGE_REFUSED = {"not_found": "there is no message {id} to change (or it is deleted)",
                  "forbidden": "only its sender may change message {id}"}


class Router:
    """The chat logic of one process: connections, messages, and the events between processes."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, settings, store, registry, broker, presence, limits=None):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.broker = broker
        self.presence = presence
        # Presence events name the connection they came from, to skip it: unique across processes.
        self._node = os.urandom(6).hex()
        # (sender key, cid) -> the connection waiting for that message's acknowledgement.
        self._acks = {}
        # session id -> its connections here, closed when the session ends (a log-out).
        self._sessions = collections.defaultdict(set)
        # One bucket per user, shared by all of the user's connections here; and one per address.
        self._rate = TokenBuckets(settings.rate_per_second, settings.rate_burst)
        self.limits = limits or AddressLimits(settings)
        self.follower = LogFollower(store, self._deliver_message)
        self.memberships = Memberships()
        self.typing = Typing(settings, store, registry, self.memberships, broker, presence)
        self.read_markers = ReadMarkers(store, registry, self.memberships, broker)
        self.people = People(store, self.memberships)
        self._fanout = Fanout()
        self._greeting = Greeting(store, presence, self._fanout, self.people, settings.presence_limit)
        self._publisher = Publisher(broker, self.follower)
        self._messages_in = {kind: metrics.MESSAGES_IN.labels(kind) for kind in ("group", "direct", "room")}

    def start(self):
        """Read who is in which room, follow the log, and listen to the broker and to
        presence (greenlets of their own)."""
        self.memberships.load(self.store.memberships())
        self.follower.start()
        # A wake published before the subscription was missed: the follower looks once it is made.
        self.broker.subscribe(self.deliver, self._resume, self.follower.poke)
        self.presence.watch(self._gone)

    def stop(self):
        """Stop following the log and listening (the connections are closed by then)."""
        self.follower.stop()
        self.broker.unsubscribe()
        self.presence.unwatch()

    # -- connections ------------------------------------------------------

    def serve(self, user, ws, since=None, held=NOT_HELD, session=None):  # pylint: disable=too-many-arguments
        """Greet one accepted socket for `user`, then take its frames as they come.

        `held` is its place among its address's connections (AddressLimits.hold_connection);
        `session` the session id it was opened with, if any.
        """
        try:
            user = self.open(user, ws, since, held, session)
        except TooManyConnections as exc:
            ws.close(1008, str(exc))
            ws.receive()  # wait for the peer's close
            return
        # Frames are checked and queued for the commit in the order they came, then the
        # next one is read while they commit: a connection keeps up to PIPELINE messages
        # in flight, so one sender is not held to one message per fsync.
        in_flight = BoundedSemaphore(PIPELINE)
        sender = _Sender(user, held.address, held.exempt)
        ws.listen(functools.partial(self._take_frame, sender, ws, in_flight),
                  functools.partial(self._try_frame_now, sender, ws, in_flight))

    def open(self, user, conn, since=None, held=NOT_HELD, session=None):  # pylint: disable=too-many-arguments
        """Register a connection (socket or event stream) and greet it; return the display name.

        `held` is released when the connection closes, or at once when it does not open;
        the connection closes when `session` ends. Raises TooManyConnections past the
        per-user limit.
        """
        try:
            user = self.store.remember_user(user)
            first = self.registry.add(user, conn)
        except BaseException:
            held.release()
            raise
        if first:
            self.people.arrive(user)  # before the greeting reads the store (see people.py)
        self._fanout.hold(conn)  # from now on, deliveries wait for the greeting's backlog
        metrics.CONNECTIONS.labels(conn.transport).inc()
        conn.on_close = lambda closed: self._disconnected(user, closed, held, session)
        if session is not None:
            self._sessions[session].add(conn)
        announce = first and self.presence.join(user)
        self._greeting.greet(user, conn, since)
        if announce:
            # hello already told this connection; the others learn it here.
            self._announce(user, True, self._origin(conn))
        return user

    def _origin(self, conn):
        return f"{self._node}/{id(conn)}"

    def _disconnected(self, user, conn, held, session):  # pylint: disable=too-many-arguments
        held.release()
        if session is not None:
            conns = self._sessions.get(session, set())
            conns.discard(conn)
            if not conns:
                self._sessions.pop(session, None)
        self._fanout.forget(conn)
        metrics.CONNECTIONS.labels(conn.transport).dec()
        if self.registry.remove(user, conn):
            self.people.depart(user)
            if self.presence.leave(user):
                self._gone(user)

    # -- frames from a socket ---------------------------------------------

    def _take_frame(self, sender, ws, in_flight, data):
        """A frame from the socket's reader greenlet: check it and queue it, waiting if need be."""
        message = self._parse(ws, data)
        if isinstance(message, client_frames.ClientTyping):
            self._relay_typing(sender, ws, message)
        elif isinstance(message, client_frames.ClientRead):
            self._mark_read(sender, ws, message)
        elif message is not None:
            self._queue(sender, ws, in_flight, message)

    def _relay_typing(self, sender, ws, typing):
        try:
            self.typing.relay(sender.user, typing.conversation)
        except FrameRejected as exc:
            self._refuse(ws, exc.code, exc.detail, None)

    def _mark_read(self, sender, ws, read):
        try:
            self.read_markers.move(sender.user, read.conversation, read.up_to)
        except FrameRejected as exc:
            self._refuse(ws, exc.code, exc.detail, None)

    def _try_frame_now(self, sender, ws, in_flight, data):
        """The same from the gevent loop itself, which must not wait: False, having done
        nothing, when it would have to (for a slot among the messages in flight, or for
        the database to say who the recipient is); the reader then takes the frame."""
        message = self._parse(ws, data)
        if isinstance(message, (client_frames.ClientTyping, client_frames.ClientRead)):
            return False  # a relay publishes to Redis, a marker is written: the loop must not wait
        if message is not None:
            if in_flight.locked() or not self.store.knows(message.to_user):
                return False
            if message.room is not None and not self.memberships.is_member(message.room, sender.user):
                return False  # the store decides (a join this process has not read yet?)
            self._queue(sender, ws, in_flight, message)
        return True

    def _parse(self, ws, data):
        """The ClientMessage of a frame; None when it was refused (the client was told)."""
        if isinstance(data, bytes):
            ws.close(1003, "binary frames are not supported")
            return None
        try:
            return client_frames.parse_client_frame(data, self.settings.max_message_chars)
        except FrameRejected as exc:
            self._refuse(ws, exc.code, exc.detail, exc.cid)
            return None

    def _queue(self, sender, ws, in_flight, message):
        in_flight.acquire()
        try:
            ack = _ack_key(sender.user, message, ws)
            self._admit(sender, message, ws, ack, _Stored(self, sender.user, message, ws, ack, in_flight))
        except FrameRejected as exc:
            in_flight.release()
            self._refuse(ws, exc.code, exc.detail, exc.cid)

    @staticmethod
    def _refuse(conn, code, detail, cid):
        metrics.ERRORS.labels(code).inc()
        conn.send(Outgoing.of(server_frames.error(code, detail, cid)))

    # -- messages ---------------------------------------------------------

    def accept(self, user, message, origin=None, address=None):
        """Store `message` from `user` at client `address` and publish it; the log follower
        acknowledges it to `origin`.

        Raises FrameRejected past the user's or the address's rate, or for an unknown recipient.
        Returns (stored record, created): not created when the cid was seen before.
        """
        ack = _ack_key(user, message, origin)
        queued = self._admit(_Sender(user, address, self.limits.exempt(address)), message, origin, ack)
        try:
            record, created = queued.get()
        except BaseException:
            self._acks.pop(ack, None)
            raise
        self._stored(message, origin, ack, record, created)
        return record, created

    def _admit(self, sender, message, origin, ack, outcome=None):  # pylint: disable=too-many-arguments
        """Check the rates and the recipient, then queue the write; return where its outcome goes.

        `ack` is what `origin` waits on (see _ack_key); `outcome` is as for
        Store.queue_message.
        """
        self._take_rate(sender, message.cid)
        if isinstance(message, client_frames.ClientChange):
            if ack:
                self._acks[ack] = origin
            return self.store.queue_change(sender.user, message.kind, message.of, message.msg, message.cid, outcome)
        user, to_user, room = sender.user, None, None
        if message.to_user is not None:
            to_user = self.store.display_name(message.to_user)
            if to_user is None:
                raise FrameRejected("unknown_user", f"nobody called {message.to_user} has logged in", message.cid)
        if message.room is not None:
            room = self.memberships.room_to_speak_in(self.store, user, message.room, message.cid)
        if ack:
            self._acks[ack] = origin  # before the commit: the follower may deliver right after it
        return self.store.queue_message(user, to_user, message.msg, message.cid, outcome, room)

    def _take_rate(self, sender, cid):
        """Count one stored event against the sender's bucket and its address's; FrameRejected
        (and nothing counted) when either is empty. An exempt address has no bucket to look at."""
        key = name_key(sender.user)
        if not self._rate.take(key):
            raise FrameRejected("rate_limited", f"at most {self.settings.rate_per_second:g} messages a second; "
                                "slow down", cid)
        if not sender.exempt and not self.limits.take_event(sender.address, exempt=False):
            self._rate.give_back(key)
            raise FrameRejected("rate_limited", f"at most {self.settings.address_rate_per_second:g} messages a "
                                "second from one address, all its users together; slow down", cid)

    def _stored(self, message, origin, ack, record, created):  # pylint: disable=too-many-arguments
        """The commit is done: publish a new event, or acknowledge a repeated one; FrameRejected
        for an edit or delete the commit refused."""
        if record is None:
            self._acks.pop(ack, None)
            raise FrameRejected(created, CHANGE_REFUSED[created].format(id=message.of), message.cid)
        if created:
            kind = "room" if record.room is not None else "group" if record.to_user is None else "direct"
            metrics.count(self._messages_in[kind])
            self.published(record, message.cid)
        elif ack:
            # Stored before: the follower delivered it then, so acknowledge here.
            self._acks.pop(ack, None)
            origin.send(Outgoing.of(server_frames.event(record, message.cid)))
            metrics.count(metrics.DELIVERIES)

    def published(self, record, cid=None):
        """`record` was just stored here: deliver it here if it is next, and have every
        process look at the log."""
        if not self.follower.offer(record, cid) or self.broker.shared:
            self._publisher.stored(record.id)
        else:
            metrics.count(metrics.MESSAGES_OUT)  # the only process there is has it

    # -- delivery ---------------------------------------------------------

    def deliver(self, event):
        """Act on a published event: read the log, close signed-out connections, or pass presence on."""
        if event["kind"] == "message":
            self.follower.poke()
        elif event["kind"] == "signed_out":
            if event.get("erased"):
                self.store.forget_name(event["user"])
                self.memberships.forget_user(event["user"])
                self.people.forget(event["user"])
            ended = event.get("session")
            conns = self._sessions.get(ended, ()) if ended else self.registry.sockets_of(event["user"])
            for conn in list(conns):
                conn.close(1008, event.get("reason", SIGNED_OUT))
        elif event["kind"] == "typing":
            self.typing.deliver(event, self._fanout)
        elif event["kind"] == "read":
            self.read_markers.deliver(event, self._fanout)
        elif event["kind"] == "presence":
            outgoing = Outgoing.of(server_frames.presence(event["user"], event["online"]))
            origin = event.get("origin")
            skip = next((c for c in self.registry.sockets_of(event["user"]) if self._origin(c) == origin), None)
            conns = (self.registry.sockets_among(self.people.watchers(event["user"])) if event.get("own")
                     else self.registry.all_sockets())
            self._fanout.send(conns, outgoing, skip)

    def _deliver_message(self, record, cid):
        """The log's next event: to its audience here, with the cid to the connection that sent it."""
        self.memberships.apply(record)  # in log order: before any later event of the room
        self.people.note(record)
        waiting = self._acks.pop((name_key(record.from_user), cid), None) if cid is not None else None
        frame = server_frames.event(record)
        encoded = server_frames.encode(frame)
        if waiting is not None:
            waiting.send(Outgoing(server_frames.acknowledgement(encoded, cid), frame["type"], record.id))
        self._fanout.send(self._audience(record), Outgoing(encoded, frame["type"], record.id), waiting, record.id,
                          counted=int(waiting is not None))

    def _audience(self, record):
        if record.room is not None:
            members = self.memberships.members(record.room)
            if record.kind is not None and record.to_user and name_key(record.to_user) not in members:
                members = members | {name_key(record.to_user)}  # who left hears it too
            return self.registry.sockets_among(members)
        if record.to_user is None:
            return self.registry.all_sockets()
        senders = self.registry.sockets_of(record.from_user)
        if name_key(record.to_user) == name_key(record.from_user):
            return senders  # a note to oneself
        return senders + self.registry.sockets_of(record.to_user)

    # -- presence ---------------------------------------------------------

    def _gone(self, user):
        """Tell everyone that `user` has no connection left anywhere."""
        self._announce(user, False)

    def _announce(self, user, online, origin=None):
        # In a crowd, pushing every coming and going to everyone costs N² frames: thousands
        # arriving at once would bury every socket. Past the limit they go to the user's
        # own people only (each process finds those connected there); /api/users tells
        # the rest. Pushes to everyone resume once the crowd thins.
        event = {"kind": "presence", "user": user, "online": online, "origin": origin}
        if self.presence.count() > self.settings.presence_limit:
            metrics.PRESENCE_QUIET.inc()
            event["own"] = True
        self.broker.publish(event)

    def _resume(self):
        """The broker missed events for a while: every client here resumes from the store."""
        metrics.BROKER_RESUMES.inc()
        self.close_all(1001, "the server lost its broker for a while: reconnect with since")

    def online(self):
        """Display names of everyone online, on every worker and host."""
        return self.presence.online()

    def typing_in(self, user, conversation):
        """`user` is typing in `conversation` (POST /api/typing); FrameRejected as for a frame."""
        self.typing.relay(user, conversation)

    def read(self, user, read):
        """`user` has read up to `read.up_to` (POST /api/read): the marker now; FrameRejected as for a frame."""
        return self.read_markers.move(user, read.conversation, read.up_to)

    def sign_out(self, user):
        """Close every connection of `user`, on every worker: its sessions just ended."""
        self.broker.publish({"kind": "signed_out", "user": user, "reason": SIGNED_OUT})

    def session_ended(self, user, session):
        """Close the connections opened with `session`, on every worker and host: it logged out."""
        self.broker.publish({"kind": "signed_out", "user": user, "session": session, "reason": "logged out"})

    def account_erased(self, user):
        """Close every connection of `user` and forget the name, on every worker and host."""
        self.store.forget_name(user)
        self.memberships.forget_user(user)
        self.people.forget(user)
        self.broker.publish({"kind": "signed_out", "user": user, "erased": True,
                             "reason": "the account was deleted"})

    def close_all(self, code, reason):
        """Close every local connection (a restart: clients reconnect with `since`)."""
        for conn in self.registry.all_sockets():
            conn.close(code, reason)


class _Sender(collections.namedtuple("_Sender", "user address exempt")):
    """Who sends: the display name, the client address its limits count against, and
    whether CHAT_LIMIT_EXEMPT covers that address (asked once per connection)."""

    __slots__ = ()


def _ack_key(user, message, origin):
    """What the connection `origin` waits on for its acknowledgement; None when it waits on nothing."""
    return (name_key(user), message.cid) if origin is not None and message.cid is not None else None


class _Stored:  # pylint: disable=protected-access  (the router's own part)
    """Where the commit reports one message from a socket, on the commit's greenlet: no
    greenlet of its own waits for each message."""

    __slots__ = ("router", "user", "message", "ws", "ack", "in_flight")

    def __init__(self, router, user, message, ws, ack, in_flight):  # pylint: disable=too-many-arguments
        self.router, self.user, self.message, self.ws, self.ack, self.in_flight = \
            router, user, message, ws, ack, in_flight

    def set(self, outcome):
        """Stored (or found stored before): `outcome` is (record, created)."""
        try:
            self.router._stored(self.message, self.ws, self.ack, *outcome)
        except FrameRejected as exc:
            self.router._refuse(self.ws, exc.code, exc.detail, exc.cid)
        finally:
            self.in_flight.release()

    def set_exception(self, exc):
        """Not stored: the sender hears so and may send again."""
        log.error("message from %s not stored: %s", self.user, exc)
        self.router._acks.pop(self.ack, None)
        self.router._refuse(self.ws, "storage_failed", STORAGE_FAILED, self.message.cid)
        self.in_flight.release()
