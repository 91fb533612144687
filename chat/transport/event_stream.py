"""Server-Sent Events: one `EventStream` per GET /events/<user>.

To the router a stream looks like a socket: `send_frame` (the WebSocket frame the
router encoded once for everybody), `send_json`, `close`, `closed`, `on_close`.
The WSGI server writes what `events()` yields; a watcher greenlet notices at
once when the client hangs up.
"""

import functools
import socket

import gevent
import orjson
from gevent.queue import Empty, Queue

from .. import metrics
from ..protocol import websocket_framing as framing

RETRY_MS = 2000  # how long EventSource waits before it reconnects


def event_bytes(kind, data, message_id=None):
    """One SSE event: `event:`, `id:` for messages, `data:` (JSON has no raw newlines)."""
    head = f"event: {kind}\nid: {message_id}\n" if message_id is not None else f"event: {kind}\n"
    return head.encode() + b"data: " + data + b"\n\n"


def _event_of(frame):
    return event_bytes(frame["type"], orjson.dumps(frame), frame["id"] if frame["type"] == "message" else None)


@functools.lru_cache(maxsize=16)
def _event_of_frame(frame):
    # The router hands the same bytes to every connection: convert them once, not per stream.
    return _event_of(orjson.loads(framing.server_payload(frame)))


class EventStream:
    """One SSE connection: a queue of encoded events and the generator that sends them."""

    transport = "sse"  # the label of its metrics

    def __init__(self, sock, max_queue, heartbeat):
        self.sock = sock
        self.max_queue = max_queue
        self.heartbeat = heartbeat
        self.closed = False
        self.close_code = None
        self.on_close = None
        self._queue = Queue()
        self._unsent = 0
        self._watcher = gevent.spawn(self._watch) if sock is not None else None

    def send_json(self, frame):
        """Queue one server frame (a dict) as an event."""
        return self._put(_event_of(frame))

    def send_frame(self, frame):
        """Queue the event for a WebSocket text frame the router already encoded."""
        return self._put(_event_of_frame(frame))

    def _put(self, data):
        if self.closed:
            return False
        if self._unsent + len(data) > self.max_queue:
            metrics.SLOW_CONSUMERS.inc()
            self.close(4001, "slow consumer")
            return False
        self._unsent += len(data)
        self._queue.put(data)
        return True

    def close(self, code=1000, reason="", drop_pending=False):  # pylint: disable=unused-argument
        """End the stream after what is queued (all of it is dropped for a slow consumer)."""
        if self.closed:
            return
        self.closed, self.close_code = True, code
        callback, self.on_close = self.on_close, None
        if callback is not None:
            callback(self)
        self._queue.put(None)
        if code == 4001 and self.sock is not None:
            self._cut()  # the writer may be stuck in a send to a client that stopped reading

    def events(self):
        """The response body: queued events, and a comment line whenever it has been quiet."""
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            while True:
                try:
                    data = self._queue.get(timeout=self.heartbeat)
                except Empty:
                    yield b": keepalive\n\n"
                    continue
                if data is None:
                    return
                self._unsent -= len(data)
                yield data
        finally:
            self.close(1001)
            if self._watcher is not None:
                self._watcher.kill()  # before the server reads this socket for a next request

    def _watch(self):
        # The client sends nothing after its request: any read returning means it left.
        try:
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.close(1006)

    def _cut(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
