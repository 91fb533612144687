"""The hardened WebSocket over gevent-websocket: size, mask and UTF-8 checks, one writer.

`ChatWebSocket` reads frames with size, mask and UTF-8 checks decided before the
payload is read or in C, and writes through one outgoing queue per connection.
"""

import base64
import codecs
import hashlib
import logging
import socket
from collections import deque
from time import monotonic

import gevent
from geventwebsocket.websocket import WebSocket

from .. import metrics
from ..errors import ConnectionLost, ProtocolViolation, TransportError
from ..protocol import websocket_framing as framing
from .connection import State
from .linger import BusyPeriod
from .outbox import OUTBOX

log = logging.getLogger(__name__)


GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


CLOSE_TIMEOUT = 5.0  # how long a closing peer may take to answer before we cut it


# Each fragment also counts this much toward the message size limit, so a stream of
# empty fragments cannot grow a message (a list of parts) without bound.
FRAGMENT_COST = 8


# The kernel's send buffer autotunes up to 4 MiB a socket: a slow reader could pin
# that much kernel memory, and hide from the queue limit. Linux doubles this value.
SEND_BUFFER = 64 * 1024


RECEIVE_SIZE = 65536


_PING = framing.encode_frame(framing.OP_PING, b"")


class ChatWebSocket(WebSocket):
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

    # -- handshake --------------------------------------------------------

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

    # -- reading ----------------------------------------------------------

    def receive(self):
        """Return the next message (str for text, bytes for binary), or None once closed.

        Protocol errors close the connection with their code (1002, 1007, 1009);
        `close_code` then tells why the connection ended.
        """
        while self.state is not State.CLOSED:
            try:
                message = self._read_message()
            except UnicodeDecodeError:
                self._fail(1007, "invalid UTF-8")
            except (ConnectionLost, OSError):
                self.abort()
            except TransportError as exc:
                self._fail(exc.code, str(exc))
            else:
                if message is not None and self.state is State.OPEN:
                    return message
        return None

    def _fail(self, code, reason):
        """Fail the connection (RFC 6455 7.1.7): close frame, then stop reading."""
        self.close(code, reason)
        self.state = State.CLOSED

    def _read_exact(self, n):
        inbox = self._inbox
        while len(inbox) < n:
            chunk = self.sock.recv(RECEIVE_SIZE)
            if not chunk:
                raise ConnectionLost("the peer went away")
            inbox += chunk
        data = inbox[:n]  # a bytearray: one copy, not two
        del inbox[:n]
        return data

    # -- listening: no greenlet while the peer is quiet ---------------------

    def listen(self, on_message, try_now):
        """Hand each message to `on_message(message)`, or `try_now(message)`, from the loop
        itself or from a reader that exists only while data comes.

        Whole short text frames, most of a chat's, go to `try_now` from the loop: it must
        not wait, and returns False, having done nothing, when it would have to; a reader
        greenlet then hands that message to `on_message`, which may wait, as it does
        everything else. The handler's greenlet, request and buffers are let go once the
        view returns (see ChatHandler): a quiet connection is then its socket, this object
        and an I/O watcher.
        """
        self._on_message, self._try_now = on_message, try_now

    @property
    def listening(self):
        """True once `listen` took the connection over from the handler."""
        return self._on_message is not None

    def adopt(self, sock):
        """Take the socket over from the handler that is about to end; start reading."""
        self.handler = self.environ = None
        self.sock = sock
        if self._inbox:  # frames that came with the request: the socket may never wake for them
            gevent.spawn(self._read_while_busy)
        else:
            self._keep_reading()

    def _keep_reading(self):
        # Wait in the loop, not in a greenlet: the watcher wakes a reader when data comes.
        if self.state is State.CLOSED:
            self._end()
            return
        self._read_watcher().start(self._readable)

    def _readable(self):
        # Called by the loop itself: short frames are handed on here, without a greenlet
        # switched to and back for each read (1 to 3% of a message's CPU at saturation).
        try:
            chunk = self.sock._sock.recv(RECEIVE_SIZE)  # pylint: disable=protected-access  (raw: never waits)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self._inbox += chunk
            self._hand_on_short_frames()
        if not chunk or self._inbox:  # the peer went away, or a frame for a reader to read
            self._wake()

    def _hand_on_short_frames(self):
        while self.state is State.OPEN:
            try:
                short = self._short_frame()
            except UnicodeDecodeError:
                return  # the reader fails the connection
            if short is None:
                return
            size, text = short
            try:
                if not self._try_now(text):
                    return  # it would wait: the reader hands it on again
            except Exception:  # pylint: disable=broad-except
                self.fail_internally("WebSocket reader")
            self._consume(size)

    def _short_frame(self):
        """(size, text) of the whole short text frame the buffer starts with, left in the
        buffer; None for anything else. UnicodeDecodeError when its text is not UTF-8."""
        small = framing.small_text(self._inbox, self.max_size)
        if small is None:
            return None
        size, payload, mask = small
        return size, framing.unmask(payload, mask).decode("utf-8")

    def _consume(self, size):
        del self._inbox[:size]
        self.last_seen = monotonic()

    def _wake(self):
        self._watcher.stop()
        gevent.spawn(self._read_while_busy)

    def _read_while_busy(self):
        """Read and hand on messages until the peer has been quiet for a LINGER tick."""
        spell = BusyPeriod()
        try:
            while self.state is not State.CLOSED:
                if not self._inbox and not self._more(spell):
                    break
                message = self.receive()
                if message is not None:
                    self._on_message(message)
        except Exception:  # pylint: disable=broad-except
            self.fail_internally("WebSocket reader")
        finally:
            spell.close()
        self._keep_reading()

    def fail_internally(self, what):
        """Log the exception being handled, `what` failing on this side, and close with 1011."""
        log.exception("%s failed", what)
        self.close(1011, "internal error")

    def _more(self, spell):
        """Wait for data; True when some came (or the peer hung up), False when it was quiet."""
        # Wait, then read: a read that finds nothing costs a system call and an exception.
        if not spell.wait(self._read_watcher()):
            return False
        try:
            chunk = self.sock.recv(RECEIVE_SIZE)
        except OSError:
            self.abort()
            return True
        if not chunk:
            self.abort()
        self._inbox += chunk
        return True

    def _read_watcher(self):
        if self._watcher is None:
            self._watcher = gevent.get_hub().loop.io(self.sock.fileno(), 1)
        return self._watcher

    def _end(self):
        """The connection is over: close if nobody did, flush, cut, release the descriptor."""
        finish(self)
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self.sock.close()

    def _read_frame(self, budget):
        header = framing.parse_header(self._read_exact, budget)
        payload = self._read_exact(header.length) if header.length else b""
        self.last_seen = monotonic()
        return header, framing.unmask(payload, header.mask)

    def _read_message(self):
        """Read frames until one whole message; None when a close frame came."""
        short = self._short_frame()
        if short is not None:  # most frames: already here whole, nothing to check further
            self._consume(short[0])
            return short[1]
        opcode, parts, size, decoder = None, [], 0, None
        while True:
            header, payload = self._read_frame(self.max_size - size)
            op = header.opcode
            if op >= framing.OP_CLOSE:
                if self._on_control(op, payload):
                    return None
                continue
            if op == framing.OP_CONT:
                if opcode is None:
                    raise ProtocolViolation("continuation frame outside a message")
            elif opcode is not None:
                raise ProtocolViolation("new message inside a fragmented one")
            else:
                opcode = op
                if header.fin:  # the common case: one frame, one message
                    return payload.decode("utf-8") if op == framing.OP_TEXT else payload
                if op == framing.OP_TEXT:
                    decoder = codecs.getincrementaldecoder("utf-8")()
            size += len(payload) + FRAGMENT_COST
            # Decoding fragment by fragment fails fast on bad UTF-8 (in C).
            parts.append(decoder.decode(payload, header.fin) if decoder else payload)
            if header.fin:
                return "".join(parts) if decoder else b"".join(parts)

    def _on_control(self, op, payload):
        """Handle a control frame; True when it was the peer's close."""
        if op == framing.OP_PING:
            self._push(framing.encode_frame(framing.OP_PONG, payload))
            return False
        if op == framing.OP_PONG:
            return False
        code, _reason = framing.parse_close(payload)
        if self.state is State.OPEN:  # the peer closes first: answer with its code
            self.close_code = code or 1005
            self._send_close(code or 1000, "")
        self.state = State.CLOSED  # the closing handshake is complete
        self._cancel_close_timer()
        return True

    # -- writing ----------------------------------------------------------

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

    # -- closing ----------------------------------------------------------

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

    # -- keepalive --------------------------------------------------------

    def check_alive(self, now, ping_interval, idle_timeout):
        """Ping a quiet peer; close one silent for idle_timeout."""
        silent = now - self.last_seen
        if silent >= idle_timeout:
            self.close(1011, "keepalive timeout: no frame or pong")
        elif silent >= ping_interval and now - self._pinged >= ping_interval:
            self._pinged = now
            self._push(_PING)


def finish(ws):
    """End an accepted connection: close if the app did not, flush, then cut."""
    ws.close(1000, "")
    ws.flush(CLOSE_TIMEOUT)
    ws.abort()
