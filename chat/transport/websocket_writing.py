"""Writing a WebSocket: one queue, one writer, never a concurrent write, never a blocked sender.

Frames wait in the connection's queue; at the end of the loop iteration (outbox.py)
they go to the kernel in one non-blocking send, and what the kernel does not take a
single writer greenlet drains. Unsent data past the queue limit closes the
connection with 4001 (slow consumer) instead of growing.
"""

import gevent

from .. import metrics
from ..protocol import websocket_framing as framing
from .connection import State
from .outbox import OUTBOX

# The kernel's send buffer autotunes up to 4 MiB a socket: a slow reader could pin
# that much kernel memory, and hide from the queue limit. Linux doubles this value.
SEND_BUFFER = 64 * 1024


class QueuedWriting:
    """ChatWebSocket's write path (a part of that class: its attributes are declared there)."""

    __slots__ = ()

    def send(self, outgoing):
        """Queue an Outgoing frame; False when it was not queued (see send_frame)."""
        return self.send_frame(outgoing.websocket_frame)

    def send_frame(self, frame):
        """Queue an encoded frame; closes with 4001 when unsent data passes max_queue.

        Returns False when the frame was not queued (closed, or the limit hit).
        """
        if self.state is not State.OPEN:
            return False
        if self._unsent + len(frame) > self.max_queue:
            metrics.SLOW_CONSUMERS.inc()
            self.close(4001, "slow consumer", drop_pending=True)
            return False
        self._push(frame)
        return True

    def echo(self, message):
        """Send `message` back as it came: a str as a text frame, bytes as a binary one."""
        if isinstance(message, str):
            return self.send_frame(framing.text_frame(message.encode("utf-8")))
        return self.send_frame(framing.encode_frame(framing.OP_BINARY, bytes(message)))

    def _push(self, frame):
        if self._cut:
            return
        self._queue.append(frame)
        self._unsent += len(frame)
        if self._writer is not None:
            return  # the writer sends it after what came before
        if self._unsent >= SEND_BUFFER:
            self._send_due()  # a burst (a backlog) goes now: it would fill the buffer anyway
        elif not self._due:
            self._due = True
            OUTBOX.add(self)

    def _send_due(self):
        """Send what is queued in one non-blocking call; a writer greenlet takes any rest."""
        self._due = False
        if self._writer is not None or not self._queue or self._cut:
            return
        data = self._take_queue()
        try:
            sent = self.sock._sock.send(data)  # pylint: disable=protected-access  (raw: never waits)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._unsent = 0
            self._break()
            return
        self._unsent -= sent
        if sent < len(data):
            self._queue.append(data[sent:])
            self._writer = gevent.spawn(self._drain)

    def _take_queue(self):
        """Everything queued, as one buffer; the queue is left empty."""
        queue = self._queue
        data = queue[0] if len(queue) == 1 else b"".join(queue)
        queue.clear()
        return data

    def _drain(self):
        """The single writer: send queued frames until the queue is empty."""
        try:
            while self._queue:
                data = self._take_queue()
                self.sock.sendall(data)
                self._unsent -= len(data)
        except OSError:
            self.abort()
        finally:
            self._writer = None

    @property
    def writing(self):
        """True while frames wait to be sent."""
        return self._writer is not None or bool(self._queue)

    def flush(self, timeout):
        """Send what is due now, then wait up to `timeout` seconds for the writer to empty the queue."""
        self._send_due()
        writer = self._writer
        if writer is not None:
            writer.join(timeout)
