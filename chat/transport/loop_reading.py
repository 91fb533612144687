"""Reading without a greenlet per connection: the loop's callback, and a reader only while data comes.

What it buys: a quiet connection is its socket, its object and an I/O watcher, no
greenlet and no stack, so thousands of idle connections stay small; and whole short
text frames, most of a chat's, are handed on from the loop's read callback itself,
without switching to a greenlet and back for each read. Anything else (a long frame,
a message that would have to wait) wakes a reader greenlet, which lingers while data
keeps coming (linger.py).
"""

import logging

import gevent

from .connection import State
from .linger import BusyPeriod
from .websocket_reading import RECEIVE_SIZE

log = logging.getLogger(__name__)


class LoopReading:
    """ChatWebSocket's listening (a part of that class: its attributes are declared there)."""

    __slots__ = ()

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
        # switched to and back for each read.
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
                if message is not None and self.state is not State.CLOSED:
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
        self.finish()
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self.sock.close()
