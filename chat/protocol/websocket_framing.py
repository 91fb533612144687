"""RFC 6455 framing as pure functions: no sockets here, only bytes in and out.

The transport reads a header with `parse_header`, decides from it alone whether
to read the payload, and builds every outgoing frame with `encode_frame`.
"""

import functools
import struct

from websockets.speedups import apply_mask

from ..errors import FrameTooBig, ProtocolViolation

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
DATA_OPCODES = frozenset((OP_CONT, OP_TEXT, OP_BINARY))
CONTROL_OPCODES = frozenset((OP_CLOSE, OP_PING, OP_PONG))

# Close codes a peer may put on the wire (RFC 6455 section 7.4, IANA registry).
_SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                             1012, 1013, 1014))

_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")
# The two bytes heading every short server frame, made once: most frames are short.
_SHORT_HEADS = {op: [bytes((0x80 | op, n)) for n in range(126)] for op in DATA_OPCODES | CONTROL_OPCODES}


class Header:
    """A decoded frame header: what is known before the payload is read."""

    __slots__ = ("fin", "opcode", "length", "mask")

    def __init__(self, fin, opcode, length, mask):
        self.fin = fin
        self.opcode = opcode
        self.length = length
        self.mask = mask


def parse_header(read, max_payload):
    """Read one client frame header through `read(n)` and check it.

    Raises ProtocolViolation for anything RFC 6455 forbids from a client and
    FrameTooBig when the announced length passes `max_payload`, before a byte
    of the payload is read.
    """
    first, second = read(2)
    if first & 0x70:
        raise ProtocolViolation("reserved bits set without an extension")
    fin, opcode, length = bool(first & 0x80), first & 0x0F, second & 0x7F
    if opcode not in DATA_OPCODES and opcode not in CONTROL_OPCODES:
        raise ProtocolViolation(f"unknown opcode {opcode}")
    if opcode in CONTROL_OPCODES and (not fin or length > 125):
        raise ProtocolViolation("control frames must be whole and at most 125 bytes")
    if not second & 0x80:
        raise ProtocolViolation("client frames must be masked")
    if length == 126:
        length = _U16.unpack(read(2))[0]
    elif length == 127:
        length = _U64.unpack(read(8))[0]
        if length >> 63:
            raise ProtocolViolation("64-bit length with the top bit set")
    if opcode in DATA_OPCODES and length > max_payload:
        raise FrameTooBig(f"frame of {length} bytes, limit {max_payload}")
    return Header(fin, opcode, length, read(4))


def small_text(data, max_payload):
    """(frame size, masked payload, mask) of the common client frame, when `data` starts
    with one whole: a final text frame of under 126 bytes, masked, without RSV bits.

    None for anything else, which `parse_header` then reads and checks in full.
    """
    if len(data) < 6 or data[0] != 0x81:  # FIN and text, no RSV bits
        return None
    length = data[1] ^ 0x80  # under 126 only when the mask bit is set and the length is short
    if length >= 126 or length > max_payload or len(data) < 6 + length:
        return None
    return 6 + length, data[6:6 + length], data[2:6]


# unmask(payload, mask): XOR `payload` with the 4-byte `mask`. The `websockets` project's C
# routine, much quicker than any pure-Python XOR. Bound directly, like `text_frame` below,
# with no Python function around it: a call less for every frame.
unmask = apply_mask


def server_payload(frame):
    """The payload of an unmasked frame that `encode_frame` built."""
    n = frame[1] & 0x7F
    return frame[2:] if n < 126 else frame[4:] if n == 126 else frame[10:]


def encode_frame(opcode, payload):
    """Build one unmasked, final server frame around `payload` (bytes)."""
    n = len(payload)
    if n < 126:
        head = _SHORT_HEADS[opcode][n]
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + _U16.pack(n)
    else:
        head = bytes((0x80 | opcode, 127)) + _U64.pack(n)
    return head + payload


# text_frame(data): a text frame around already-encoded UTF-8 `data`.
text_frame = functools.partial(encode_frame, OP_TEXT)


def close_frame(code, reason=""):
    """A close frame with `code` and a reason cut to fit the 125-byte limit."""
    if code is None:
        return encode_frame(OP_CLOSE, b"")
    raw = reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
    return encode_frame(OP_CLOSE, _U16.pack(code) + raw)


def parse_close(payload):
    """Return (code, reason) of a client close payload; (None, "") when empty.

    Raises ProtocolViolation for a one-byte payload or a code no peer may send,
    and UnicodeDecodeError for a reason that is not UTF-8.
    """
    if not payload:
        return None, ""
    if len(payload) < 2:
        raise ProtocolViolation("close payload of one byte")
    code = _U16.unpack(payload[:2])[0]
    if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
        raise ProtocolViolation(f"close code {code} may not be sent")
    return code, payload[2:].decode("utf-8")
