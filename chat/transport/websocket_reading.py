"""Reading a WebSocket's frames: sizes decided from the header, unmasking and UTF-8 in C.

A frame's size is checked against the limit before a byte of its payload is read;
fragments count toward it (with FRAGMENT_COST each); UTF-8 is decoded fragment by
fragment, so bad text fails fast.
"""

import codecs
from time import monotonic

from ..errors import ConnectionLost, ProtocolViolation, TransportError
from ..protocol import websocket_framing as framing
from .connection import State

RECEIVE_SIZE = 65536
# Each fragment also counts this much toward the message size limit, so a stream of
# empty fragments cannot grow a message (a list of parts) without bound.
FRAGMENT_COST = 8


class FrameReading:
    """ChatWebSocket's read path (a part of that class: its attributes are declared there)."""

    __slots__ = ()

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
