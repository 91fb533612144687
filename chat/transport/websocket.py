"""The hardened WebSocket over gevent-websocket: one connection's life, from handshake to end.

`ChatWebSocket` is put together from its read path (websocket_reading.py), its
listening without a greenlet (loop_reading.py) and its write path
(websocket_writing.py); this module holds its lifecycle: the accept, the closing
handshake, the cut, and the keepalive check.
"""

import base64
import hashlib
import socket
from collections import deque
from time import monotonic

import gevent
from geventwebsocket.websocket import WebSocket

from ..protocol import websocket_framing as framing
from .connection import State
from .loop_reading import LoopReading
from .websocket_reading import RECEIVE_SIZE, FrameReading
from .websocket_writing import SEND_BUFFER, QueuedWriting

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE_TIMEOUT = 5.0  # how long a closing peer may take to answer before we cut it
_PING = framing.encode_frame(framing.OP_PING, b"")


class ChatWebSocket(FrameReading, LoopReading, QueuedWriting, WebSocket):
    """One WebSocket connection, from its handshake to its end: a `Connection`.

    Its life is one `state`. Reading happens in the handler's greenlet through
    `receive()`, then (see `listen`) from the loop and a reader that exists only
    while data comes. Writing is serialized: frames wait in one queue; at the end of
    the loop iteration (see outbox.py) they go to the kernel in one non-blocking
    send, and what the kernel does not take a single writer greenlet drains.
    Nothing ever writes the socket concurrently.
    """

    __slots__ = ("sock", "state", "close_code", "last_seen", "on_close", "max_size", "max_queue",
                 "_cut", "_queue", "_unsent", "_writer", "_pinged", "_close_timer", "_keepalive", "_inbox",
                 "_on_message", "_try_now", "_watcher", "_due")
    transport = "ws"  # the label of its metrics

    def __init__(self, handler):  # pylint: disable=super-init-not-called
        # The base __init__ builds a pure-Python UTF-8 validator we never use.
        self.handler = handler
        self.environ = handler.environ
        self.stream = None
        self.raw_read = self.raw_write = None
        self._inbox = bytearray()  # received, not yet read as frames
        self._on_message = self._try_now = self._watcher = None
        self.sock = handler.socket
        self.state = State.CONNECTING
        self._cut = False  # the socket is shut down, or found dead: nothing more goes out
        self._due = False  # in the outbox: its queue goes out at the end of this loop turn
        self.close_code = None
        self.on_close = None
        self.max_size = self.max_queue = 0
        self._queue = deque()
        self._unsent = 0
        self._writer = self._close_timer = self._keepalive = None
        self.last_seen = self._pinged = monotonic()

    def __del__(self):
        pass  # the base class closes from __del__; the handler closes for us

    @property
    def closed(self):
        """True once the connection left OPEN (a close frame went out or came in, or it was cut)."""
        return self.state is State.CLOSING or self.state is State.CLOSED

    def accept(self, max_size, max_queue, keepalive=None):
        """Send the 101 response; from here on the connection speaks WebSocket."""
        self.max_size, self.max_queue = max_size, max_queue
        key = self.environ["HTTP_SEC_WEBSOCKET_KEY"].strip()
        digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
        self.handler.start_response("101 Switching Protocols", [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", base64.b64encode(digest).decode("ascii"))])
        self.handler.write(b"")
        # From here on frames are read from the socket itself: first take whatever the
        # handler's buffered reader already holds past the request.
        self.sock.settimeout(0.0)
        self._inbox += self.handler.rfile.read1(RECEIVE_SIZE) or b""
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self.state = State.OPEN
        self.last_seen = monotonic()
        if keepalive is not None:
            self._keepalive = keepalive
            keepalive.add(self)

    def close(self, code=1000, message="", drop_pending=False):
        """Start the closing handshake with `code` and the reason `message`."""
        if self.state is not State.OPEN:
            return
        if drop_pending:
            self._unsent -= sum(len(f) for f in self._queue)
            self._queue.clear()
        self.close_code = code
        self._send_close(code, message if isinstance(message, str) else message.decode("utf-8", "replace"))
        self._close_timer = gevent.spawn_later(CLOSE_TIMEOUT, self.abort)

    def _send_close(self, code, reason):
        self.state = State.CLOSING
        self._left_open()
        self._push(framing.close_frame(code, reason))

    def _left_open(self):
        """The connection left OPEN: stop the keepalive, call on_close (once)."""
        if self._keepalive is not None:
            self._keepalive.discard(self)
        callback, self.on_close = self.on_close, None
        if callback is not None:
            gevent.spawn(callback, self)  # the rule of Connection.on_close

    def _cancel_close_timer(self):
        timer, self._close_timer = self._close_timer, None
        if timer is not None and timer is not gevent.getcurrent():
            timer.kill(block=False)

    def _break(self):
        # Found dead while sending, perhaps to a crowd: aborting runs the router's close
        # callback, which tells everyone else, some of whom may be found dead in turn.
        # Later, from the loop, so a crowd hanging up at once cannot recurse.
        self._cut = True
        gevent.get_hub().loop.run_callback(self.abort)

    def abort(self):
        """The connection is gone or must be cut: no handshake, wake every waiter. Idempotent."""
        if self.close_code is None:
            self.close_code = 1006
        self.state = State.CLOSED
        self._cut = True
        self._left_open()
        self._cancel_close_timer()
        self._queue.clear()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def check_alive(self, now, ping_interval, idle_timeout):
        """Ping a quiet peer; close one silent for idle_timeout."""
        silent = now - self.last_seen
        if silent >= idle_timeout:
            self.close(1011, "keepalive timeout: no frame or pong")
        elif silent >= ping_interval and now - self._pinged >= ping_interval:
            self._pinged = now
            self._push(_PING)

    def finish(self):
        """End an accepted connection: close if the app did not, flush, then cut."""
        self.close(1000, "")
        self.flush(CLOSE_TIMEOUT)
        self.abort()
        # The handlers given to `listen` hold this object (the router's partials name it):
        # let them go, so that reference counting frees a closed connection at once. The
        # collector, tuned to run seldom (process_tuning), would leave the cycles for long.
        self._on_message = self._try_now = None
