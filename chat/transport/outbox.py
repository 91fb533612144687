"""Frames sent at the end of the loop iteration: one system call for what a turn queued.

Frames for one socket during one iteration (an acknowledgement, deliveries,
presence) then share a system call and a packet, though TCP_NODELAY is on.
"""

import logging

from ..loop_iteration import OncePerIteration

log = logging.getLogger(__name__)


class Outbox:
    """Connections written to during this turn of the loop: each sends its frames in one
    call when the turn ends. Frames for one socket (an acknowledgement, deliveries,
    presence) then share a system call and a packet, though TCP_NODELAY is on."""

    def __init__(self):
        self._due = []
        self._turn = OncePerIteration(self._send)

    def add(self, ws):
        """Send `ws`'s queue once the greenlets running now have had their turn."""
        if not self._due:  # the first of this turn: no send is due yet (the send empties the list)
            self._turn.request()
        self._due.append(ws)

    def _send(self):
        due, self._due = self._due, []
        for ws in due:
            try:
                ws._send_due()  # pylint: disable=protected-access
            except Exception:  # one socket must not keep the others' frames back
                log.exception("sending to a WebSocket failed")


OUTBOX = Outbox()
