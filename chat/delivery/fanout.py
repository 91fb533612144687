"""Fan-out: one encoded frame to many connections, with the greeting's two rules.

While a connection's backlog is read, its deliveries are held back, then sent
after `synced`; a message its backlog already covered (an id at or below the
backlog's last id) is dropped, then and later, so a client never sees one twice.
"""

from .. import metrics


class Fanout:
    """Sends an Outgoing to a set of connections, holding or dropping as the greeting needs."""

    def __init__(self):
        self._held = {}  # connection -> [(message id or None, Outgoing)] while its backlog is read
        # connection -> the last id its backlog covered. A message committed before the
        # backlog was read may reach the log follower after it was sent: that copy is dropped.
        self._floor = {}

    def hold(self, conn):
        """From now on, deliveries to `conn` wait until `release` (its backlog is being read)."""
        self._held[conn] = []

    def release(self, conn, last_id):
        """Send what waited, but for what the backlog up to `last_id` covered; drop it later too."""
        held = self._held.pop(conn)
        if not conn.closed:
            self._floor[conn] = last_id
        for message_id, outgoing in held:
            if message_id is None or message_id > last_id:
                conn.send(outgoing)

    def forget(self, conn):
        """`conn` is gone, or its greeting failed: drop what was held for it."""
        self._held.pop(conn, None)
        self._floor.pop(conn, None)

    def send(self, conns, outgoing, skip=None, message_id=None, counted=0):
        """Send `outgoing` to each of `conns` but `skip`; a message's deliveries are counted,
        `counted` of them already."""
        held, floor = self._held, self._floor
        sent = counted
        for conn in conns:
            if conn is skip:
                continue
            if conn in held:
                held[conn].append((message_id, outgoing))
            elif message_id is None or message_id > floor.get(conn, 0):
                conn.send(outgoing)
                sent += 1
        if message_id is not None:
            metrics.count(metrics.DELIVERIES, sent)
