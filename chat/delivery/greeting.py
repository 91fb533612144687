"""The greeting of every connection: hello, the backlog, synced, then what came meanwhile.

The connection is registered before the backlog is read, so nothing committed
later is missed; the fan-out holds its deliveries until synced and drops those
the backlog already covered.
"""

from .. import metrics
from ..protocol import server_frames
from ..protocol.outgoing import Outgoing

BACKLOG_DEFAULT = 50  # without `since`: the last 50 visible messages
BACKLOG_MAX = 1000  # with `since`: at most this many, the newest


class Greeting:
    """Greets connections from the store's snapshot and the presence's list of who is online."""

    def __init__(self, store, presence, fanout):
        self.store = store
        self.presence = presence
        self.fanout = fanout

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
        conn.send(Outgoing(server_frames.hello(user, self.presence.online_json(), last_id), "hello"))
        for record in records:
            conn.send(Outgoing.of(server_frames.event(record)))
        metrics.count(metrics.DELIVERIES, len(records))
        # Without `since` the last 50 are a courtesy, not a cut: never "truncated".
        conn.send(Outgoing.of(server_frames.synced(last_id, truncated and since is not None)))
        return last_id
