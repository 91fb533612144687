"""Server-Sent Events: one `EventStream` per GET /events/<user>, a `Connection` like a socket.

The WSGI server writes what `events()` yields. Once the body starts, a watcher
greenlet reads the socket, so a client that hangs up is noticed at once; the
watcher ends with the stream, before the server reads that socket for a next request.
"""

import socket

import gevent
from gevent.queue import Empty, Queue

from .. import metrics
from .connection import State

RETRY_MS = 2000  # how long EventSource waits before it reconnects


class EventStream:
    """One SSE connection: a queue of encoded events and the generator that sends them."""

    transport = "sse"  # the label of its metrics

    def __init__(self, sock, max_queue, heartbeat):
        self.sock = sock
        self.max_queue = max_queue
        self.heartbeat = heartbeat
        self.state = State.OPEN
        self.close_code = None
        self.on_close = None
        self._queue = Queue()
        self._unsent = 0
        self._watcher = None

    @property
    def closed(self):
        """True once the stream ended (an event stream has no closing handshake)."""
        return self.state is State.CLOSED

    def send(self, outgoing):
        """Queue an Outgoing frame as an event; False when closed or past the queue limit."""
        data = outgoing.sse_event
        if self.state is State.CLOSED:
            return False
        if self._unsent + len(data) > self.max_queue:
            metrics.SLOW_CONSUMERS.inc()
            self.close(4001, "slow consumer")
            return False
        self._unsent += len(data)
        self._queue.put(data)
        return True

    def close(self, code=1000, reason=""):  # pylint: disable=unused-argument
        """End the stream after what is queued (all of it is dropped for a slow consumer)."""
        if self.state is State.CLOSED:
            return
        self.state, self.close_code = State.CLOSED, code
        callback, self.on_close = self.on_close, None
        if callback is not None:
            gevent.spawn(callback, self)  # the rule of Connection.on_close
        self._queue.put(None)
        if code == 4001 and self.sock is not None:
            self._cut()  # the writer may be stuck in a send to a client that stopped reading

    def events(self):
        """The response body: queued events, and a comment line whenever it has been quiet."""
        if self.sock is not None and self.state is State.OPEN:
            self._watcher = gevent.spawn(self._watch)
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
