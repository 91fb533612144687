"""RFC 6455 framing, pure: headers, limits, unmasking, the server's frames."""

import io

import pytest

from chat.errors import FrameTooBig, ProtocolViolation
from chat.protocol import websocket_framing as wsproto


def reader(data):
    stream = io.BytesIO(data)
    return stream.read


def test_unmask_matches_the_bytewise_definition():
    """unmask equals XOR byte by byte, for every length mod 4."""
    mask = b"\x01\x82\x43\xf4"
    for n in range(0, 70):
        payload = bytes(range(n))
        assert wsproto.unmask(payload, mask) == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_header_lengths_and_limits():
    """16- and 64-bit lengths decode; a length over the limit raises before the payload."""
    header = wsproto.parse_header(reader(b"\x81\xfe\x01\x00" + b"MASK"), 65536)
    assert (header.fin, header.opcode, header.length, header.mask) == (True, 1, 256, b"MASK")
    with pytest.raises(FrameTooBig):
        wsproto.parse_header(reader(b"\x81\xff" + (1 << 40).to_bytes(8, "big")), 65536)
    with pytest.raises(ProtocolViolation):
        wsproto.parse_header(reader(b"\x81\xff" + (1 << 63).to_bytes(8, "big")), 1 << 64)


def test_small_text_takes_only_whole_short_masked_text_frames():
    """The shortcut agrees with the full header parse, and leaves every other frame to it."""
    frame = b"\x81\x85MASK" + wsproto.unmask(b"hello", b"MASK")
    size, payload, mask = wsproto.small_text(bytearray(frame + b"\x81"), 65536)
    header = wsproto.parse_header(reader(frame), 65536)
    assert (size, mask, wsproto.unmask(payload, mask)) == (len(frame), header.mask, b"hello")
    others = [frame[:-1],  # not all here yet
              b"\x01" + frame[1:],  # not final
              b"\xc1" + frame[1:],  # an RSV bit
              b"\x82" + frame[1:],  # binary
              b"\x81\x05" + frame[6:],  # unmasked
              b"\x81\xfe\x00\x05MASK" + frame[6:]]  # a 16-bit length
    for data in others:
        assert wsproto.small_text(bytearray(data), 65536) is None, data
    assert wsproto.small_text(bytearray(frame), 4) is None  # over the limit: the full parse refuses it


def test_encode_frame_picks_the_length_form():
    """Server frames use the shortest length encoding and are never masked."""
    assert wsproto.encode_frame(1, b"hi") == b"\x81\x02hi"
    assert wsproto.encode_frame(1, b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert wsproto.encode_frame(2, b"x" * 70000)[:2] == b"\x82\x7f"


def test_close_reason_is_cut_to_fit_a_control_frame():
    """A long reason is cut to 123 bytes without splitting a code point."""
    frame = wsproto.close_frame(1008, "é" * 100)
    assert len(frame) <= 127
    frame[4:].decode("utf-8")
