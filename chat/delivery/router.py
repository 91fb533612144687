"""Accepting messages and routing them: store, publish, deliver, acknowledge.

Views and the transport hand frames in; the router stores them and publishes a
"look" event; on every process the tail of the store's log (`tail.Tail`) then
hands each new message, once and in id order, to the registry's connections.
The sender's connection gets its copy with the `cid`: the acknowledgement.
"""

import functools
import logging
import os

import gevent
from gevent.lock import BoundedSemaphore

from .. import metrics
from ..protocol import client_frames, server_frames
from ..protocol.names import name_key
from ..protocol.websocket_framing import text_frame
from ..errors import FrameRejected, TooManyConnections
from .rate_limits import TokenBuckets
from .log_follower import LogFollower

log = logging.getLogger(__name__)

BACKLOG_DEFAULT = 50
BACKLOG_MAX = 1000
PIPELINE = 32  # messages of one connection queued for commit at once
STORAGE_FAILED = "the message could not be stored; send it again"


class Router:
    """The chat logic of one process."""

    def __init__(self, settings, store, registry, broker, presence):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.broker = broker
        self.presence = presence
        # Presence events name the connection they came from, to skip it: unique across processes.
        self._node = os.urandom(6).hex()
        # (sender key, cid) -> the connection waiting for that message's acknowledgement.
        self._acks = {}
        self._held = {}  # socket -> deliveries held back while its backlog is read
        # socket -> the last id its backlog covered. A message committed before the
        # backlog was read may reach the tail after it was sent: that copy is dropped.
        self._floor = {}
        # One bucket per user, shared by all of the user's connections here.
        self._rate = TokenBuckets(settings.rate_per_second, settings.rate_burst)
        self._tail = LogFollower(store, self._deliver_message)
        self._unpublished = 0  # messages stored here since the last "look" event went out
        self._newest = 0
        self._publishing = False
        self._messages_in = {True: metrics.MESSAGES_IN.labels("group"), False: metrics.MESSAGES_IN.labels("direct")}
        broker.subscribe(self.deliver, self._resume)
        presence.watch(self._gone)

    # -- connections ------------------------------------------------------

    def serve(self, user, ws, since=None):
        """Greet one accepted socket for `user`, then take its frames as they come."""
        try:
            user = self.open(user, ws, since)
        except TooManyConnections as exc:
            ws.close(1008, str(exc))
            ws.receive()  # wait for the peer's close
            return
        # Frames are checked and queued for the commit in the order they came, then the
        # next one is read while they commit: a connection keeps up to PIPELINE messages
        # in flight, so one sender is not held to one message per fsync.
        in_flight = BoundedSemaphore(PIPELINE)
        ws.listen(functools.partial(self._on_frame, user, ws, in_flight))

    def open(self, user, conn, since=None):
        """Register a connection (socket or event stream) and greet it; return the display name.

        Raises TooManyConnections past the per-user limit.
        """
        user = self.store.remember_user(user)
        first = self.registry.add(user, conn)
        self._held[conn] = []  # from now on, deliveries wait for the backlog (see _greet)
        metrics.CONNECTIONS.labels(conn.transport).inc()
        conn.on_close = lambda closed: self._disconnected(user, closed)
        announce = first and self.presence.join(user)
        self._greet(user, conn, since)
        if announce:
            # hello already told this connection; the others learn it here.
            self._announce(user, True, self._origin(conn))
        return user

    def _origin(self, conn):
        return f"{self._node}/{id(conn)}"

    def _greet(self, user, ws, since):
        """hello, the backlog of docs/protocol.md, synced; then what arrived meanwhile.

        The socket is registered before the backlog is read, so nothing committed
        later is missed; deliveries wait in a buffer until synced, and those the
        backlog already covered (id <= its last_id) are dropped, then and later.
        """
        held = self._held[ws]
        try:
            limit = BACKLOG_MAX if since is not None else BACKLOG_DEFAULT
            last_id, records, truncated = self.store.snapshot(user, since, limit)
            ws.send_frame(text_frame(server_frames.hello(user, self.presence.online_json(), last_id)))
            for record in records:
                ws.send_json(server_frames.message(record))
            metrics.count(metrics.DELIVERIES, len(records))
            # Without `since` the last 50 are a courtesy, not a cut: never "truncated".
            ws.send_json(server_frames.synced(last_id, truncated and since is not None))
        finally:
            del self._held[ws]
        if not ws.closed:
            self._floor[ws] = last_id
        for message_id, frame in held:
            if message_id is None or message_id > last_id:
                ws.send_frame(frame)

    def _on_frame(self, user, ws, in_flight, data, may_wait):
        # Returns False, having done nothing, when it would wait and may not (see
        # ChatWebSocket.listen): for a slot among the messages in flight, or for the
        # database to say who the recipient is.
        if isinstance(data, bytes):
            ws.close(1003, "binary frames are not supported")
            return True
        try:
            message = client_frames.parse_client_frame(data, self.settings.max_message_chars)
        except FrameRejected as exc:
            self._refuse(ws, exc.code, exc.detail, exc.cid)
            return True
        if not may_wait and (in_flight.locked() or not self.store.knows(message.to_user)):
            return False
        in_flight.acquire()
        try:
            ack = _ack_key(user, message, ws)
            self._admit(user, message, ws, ack, _Stored(self, user, message, ws, ack, in_flight))
        except FrameRejected as exc:
            in_flight.release()
            self._refuse(ws, exc.code, exc.detail, exc.cid)
        return True

    @staticmethod
    def _refuse(ws, code, detail, cid):
        metrics.ERRORS.labels(code).inc()
        ws.send_json(server_frames.error(code, detail, cid))

    def _disconnected(self, user, ws):
        self._floor.pop(ws, None)
        metrics.CONNECTIONS.labels(ws.transport).dec()
        if self.registry.remove(user, ws) and self.presence.leave(user):
            self._gone(user)

    def _gone(self, user):
        """Tell everyone that `user` has no connection left anywhere."""
        self._announce(user, False)

    def _announce(self, user, online, origin=None):
        # In a crowd, pushing every coming and going to everyone costs N² frames: thousands
        # arriving at once would bury every socket. Past the limit, hello and /api/users
        # still tell who is online; pushes resume once the crowd thins.
        if self.presence.count() > self.settings.presence_limit:
            metrics.PRESENCE_QUIET.inc()
            return
        self.broker.publish({"kind": "presence", "user": user, "online": online, "origin": origin})

    def _resume(self):
        """The broker missed events for a while: every client here resumes from the store."""
        metrics.BROKER_RESUMES.inc()
        self.close_all(1001, "the server lost its broker for a while: reconnect with since")

    # -- messages ---------------------------------------------------------

    def accept(self, user, message, origin=None):
        """Store `message` from `user` and publish it; the tail acknowledges it to `origin`.

        Raises FrameRejected past the user's rate or for an unknown recipient.
        Returns (stored record, created): not created when the cid was seen before.
        """
        ack = _ack_key(user, message, origin)
        queued = self._admit(user, message, origin, ack)
        try:
            record, created = queued.get()
        except BaseException:
            self._acks.pop(ack, None)
            raise
        self._stored(message, origin, ack, record, created)
        return record, created

    def _admit(self, user, message, origin, ack, outcome=None):
        """Check the rate and the recipient, then queue the write; return where its outcome goes.

        `ack` is what `origin` waits on (see _ack_key); `outcome` is as for
        Store.queue_message.
        """
        if not self._rate.take(name_key(user)):
            raise FrameRejected("rate_limited", f"at most {self.settings.rate_per_second:g} messages a second; "
                                "slow down", message.cid)
        to_user = None
        if message.to_user is not None:
            to_user = self.store.display_name(message.to_user)
            if to_user is None:
                raise FrameRejected("unknown_user", f"nobody called {message.to_user} has logged in", message.cid)
        if ack:
            self._acks[ack] = origin  # before the commit: the tail may deliver right after it
        return self.store.queue_message(user, to_user, message.msg, message.cid, outcome)

    def _stored(self, message, origin, ack, record, created):
        """The commit is done: publish a new message, or acknowledge a repeated one."""
        if created:
            metrics.count(self._messages_in[record.to_user is None])
            if not self._tail.offer(record, message.cid) or self.broker.shared:
                self._publish(record.id)
            else:
                metrics.count(metrics.MESSAGES_OUT)  # the only process there is has it
        elif ack:
            # Stored before: the tail delivered it then, so acknowledge here.
            self._acks.pop(ack, None)
            origin.send_json(server_frames.message(record, message.cid))
            metrics.count(metrics.DELIVERIES)

    def _publish(self, message_id):
        # An event only says "look": one covers every message committed while the one before
        # was on its way, and a round trip to Redis never holds up the commit's greenlet.
        self._unpublished += 1
        self._newest = max(self._newest, message_id)
        if not self._publishing:
            self._publishing = True
            gevent.spawn(self._publish_loop)

    def _publish_loop(self):
        try:
            while self._unpublished:
                count, self._unpublished = self._unpublished, 0
                if self.broker.publish({"kind": "message", "id": self._newest}):
                    metrics.count(metrics.MESSAGES_OUT, count)
                else:
                    self._tail.poke()  # no broker: this process still delivers, others poll
        finally:
            self._publishing = False

    # -- delivery ---------------------------------------------------------

    def deliver(self, event):
        """Act on a published event: read the log, close signed-out sockets, or pass presence on."""
        if event["kind"] == "message":
            self._tail.poke()
        elif event["kind"] == "signed_out":
            for ws in list(self.registry.sockets_of(event["user"])):
                ws.close(1008, "the password changed: log in again")
        elif event["kind"] == "presence":
            frame = text_frame(server_frames.encode(server_frames.presence(event["user"], event["online"])))
            origin = event.get("origin")
            skip = next((ws for ws in self.registry.sockets_of(event["user"]) if self._origin(ws) == origin), None)
            self._send_to(self.registry.all_sockets(), frame, skip)

    def _deliver_message(self, record, cid):
        """The tail's next message: to its audience here, with the cid to the connection that sent it."""
        waiting = self._acks.pop((name_key(record.from_user), cid), None) if cid is not None else None
        encoded = server_frames.encode(server_frames.message(record))
        frame = text_frame(encoded)
        if waiting is not None:
            waiting.send_frame(text_frame(server_frames.acknowledgement(encoded, cid)))
        self._send_to(self._audience(record), frame, waiting, record.id, counted=int(waiting is not None))

    def _audience(self, record):
        if record.to_user is None:
            return self.registry.all_sockets()
        senders = self.registry.sockets_of(record.from_user)
        if name_key(record.to_user) == name_key(record.from_user):
            return senders  # a note to oneself
        return senders + self.registry.sockets_of(record.to_user)

    def _send_to(self, sockets, frame, skip=None, message_id=None, counted=0):
        # One encoded frame, the same bytes to every socket. Deliveries of a message (with
        # `counted` already made) are counted once.
        held, floor = self._held, self._floor
        sent = counted
        for ws in sockets:
            if ws is skip:
                continue
            if ws in held:
                held[ws].append((message_id, frame))
            elif message_id is None or message_id > floor.get(ws, 0):
                ws.send_frame(frame)
                sent += 1
        if message_id is not None:
            metrics.count(metrics.DELIVERIES, sent)

    def online(self):
        """Display names of everyone online, on every worker and host."""
        return self.presence.online()

    def sign_out(self, user):
        """Close every connection of `user`, on every worker: its sessions just ended."""
        self.broker.publish({"kind": "signed_out", "user": user})

    def close_all(self, code, reason):
        """Close every local socket (a restart: clients reconnect with `since`)."""
        for ws in self.registry.all_sockets():
            ws.close(code, reason)


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
        finally:
            self.in_flight.release()

    def set_exception(self, exc):
        """Not stored: the sender hears so and may send again."""
        log.error("message from %s not stored: %s", self.user, exc)
        self.router._acks.pop(self.ack, None)
        self.router._refuse(self.ws, "storage_failed", STORAGE_FAILED, self.message.cid)
        self.in_flight.release()
