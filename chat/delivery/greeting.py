"""The greeting of every connection: hello, the backlog, synced, then what came meanwhile.

The connection is registered before the backlog is read, so nothing committed
later is missed; the fan-out holds its deliveries until synced and drops those
the backlog already covered.

While at most CHAT_PRESENCE_LIMIT users are online, hello lists all of them. Past it,
it lists the user and their own people online (people.py), at most the limit, with
"online_complete": false: a crowd's greetings stay small, and a client pages through
everyone with GET /api/users?limit=&after= if it wants them.
"""

import orjson

from .. import metrics
from ..protocol import server_frames
from ..protocol.outgoing import Outgoing

BACKLOG_DEFAULT = 50  # without `since`: the last 50 visible messages
BACKLOG_MAX = 1000  # with `since`: at most this many, the newest


class Greeting:
    """Greets connections from the store's snapshot and the presence's list of who is online."""

    def __init__(self, store, presence, fanout, people, presence_limit):  # pylint: disable=too-many-arguments
        self.store = store
        self.presence = presence
        self.fanout = fanout
        self.people = people
        self.presence_limit = presence_limit

    def greet(self, user, conn, since):
        """Send hello, the backlog after `since` (or the last 50), synced; then release what waited.

        The fan-out holds the connection's deliveries since it was registered (Fanout.hold).
        """
        try:
            last_id = self._send_backlog(user, conn, since)
        except BaseException:
            self.fanout.forget(conn)
            raise
        self.fanout.release(conn, last_id)

    def _send_backlog(self, user, conn, since):
        limit = BACKLOG_MAX if since is not None else BACKLOG_DEFAULT
        last_id, records, truncated = self.store.snapshot(user, since, limit)
        conn.send(Outgoing(self._hello(user, last_id), "hello"))
        for record in records:
            conn.send(Outgoing.of(server_frames.event(record)))
        metrics.count(metrics.DELIVERIES, len(records))
        # Without `since` the last 50 are a courtesy, not a cut: never "truncated".
        conn.send(Outgoing.of(server_frames.synced(last_id, truncated and since is not None)))
        return last_id

    def _hello(self, user, last_id):
        """The encoded hello: everyone online, or past the limit the user's own people online."""
        if self.presence.count() <= self.presence_limit:
            return server_frames.hello(user, self.presence.online_json(), last_id)
        online = [user, *self.presence.online_among(self.people.own(user), self.presence_limit - 1)]
        return server_frames.hello(user, orjson.dumps(online), last_id, complete=False)
