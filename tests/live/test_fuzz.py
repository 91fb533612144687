"""Property-based fuzzing (hypothesis): the frame reader and message validation,
in-process and against a live server. Whatever a client sends ends in an error
frame or a proper close code, never a crash or a traceback."""

import io
import json
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.protocol import websocket_framing as wsproto
from chat.protocol.client_frames import parse_client_frame
from chat.errors import ConnectionLost, FrameRejected, TransportError
from liveserver import UNLIMITED, Server, timeout
from rawws import frame, handshake

ERROR_CODES = {"bad_json", "bad_message", "too_long", "unknown_user", "rate_limited"}
SERVER_CLOSE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011}
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
# Objects shaped like client frames, so that fuzzing reaches past the first type check.
frame_like = st.fixed_dictionaries({}, optional={
    "msg": st.one_of(st.text(max_size=60), st.integers(), st.none(), st.just("x" * 4001)),
    "to_user": st.one_of(st.none(), st.just(""), st.text(max_size=40), st.integers(), st.just("fuzzer")),
    "cid": st.one_of(st.text(max_size=70), st.integers(), st.none()),
    "extra": json_values})


def _reader(data):
    stream = io.BytesIO(data)

    def read(n):
        chunk = stream.read(n)
        if len(chunk) != n:
            raise ConnectionLost("short")
        return chunk
    return read


@FUZZ
@given(st.binary(max_size=20), st.integers(min_value=0, max_value=1 << 20))
def test_header_parser_takes_any_bytes(data, limit):
    """Any bytes: a header, or one of the transport's own errors (each has a close code)."""
    try:
        header = wsproto.parse_header(_reader(data), limit)
    except TransportError as exc:
        assert exc.code in {1002, 1006, 1009}
    else:
        assert header.length <= limit or header.opcode >= wsproto.OP_CLOSE


@FUZZ
@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps), frame_like.map(json.dumps)))
def test_message_validation_takes_any_text(text):
    """Any text: a valid message, or FrameRejected with a code of PROTOCOL.md."""
    try:
        message = parse_client_frame(text, 4000)
    except FrameRejected as exc:
        assert exc.code in ERROR_CODES
        assert exc.cid is None or isinstance(exc.cid, str)
    else:
        assert isinstance(message.msg, str) and 1 <= len(message.msg) <= 4000


# -- live -------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    """An open-mode server with the rate limit lifted (fuzzing sends fast)."""
    srv = Server(tmp_path_factory.mktemp("fuzz"), {"CHAT_AUTH": "open", **UNLIMITED}).start()
    yield srv
    assert "Traceback" not in srv.log()
    srv.stop()


@pytest.fixture(scope="module")
def fuzzer(fuzz_server):
    """One live connection that every JSON example goes through."""
    fuzz_server.connect("fuzzer", token=False).close()  # make "fuzzer" a known user
    client = fuzz_server.connect("fuzzer", token=False)
    client.sync()
    client.probes = 0
    yield client
    client.close()


@FUZZ
@given(st.one_of(json_values.map(json.dumps), frame_like.map(json.dumps), st.text(max_size=100)))
def test_any_json_gets_one_answer_and_the_connection_lives(fuzzer, text):
    """Each frame gets exactly one answer, an ack or an error frame; a probe after it still works."""
    fuzzer.probes += 1
    probe = f"probe{fuzzer.probes}"
    fuzzer.ws.send(text)
    fuzzer.send(msg=probe, cid=probe)
    answers = []
    while (frame := fuzzer.recv())["type"] != "message" or frame.get("cid") != probe:
        answers.append(frame)
    assert len(answers) == 1, answers
    answer = answers[0]
    assert answer["type"] in ("message", "error"), answer
    if answer["type"] == "error":
        assert answer["code"] in ERROR_CODES and answer["detail"]


def _frame(opcode, payload, fin, rsv, masked, length_form):
    return frame(opcode, payload, fin=fin, mask=masked, rsv=rsv << 4, length_form=length_form, key=b"\x01\x02\x03\x04")


# Mostly plausible frames (masked, no RSV bits, known opcodes), so that the
# reader gets past the header checks into UTF-8, fragments and close codes.
frames = st.builds(_frame, st.sampled_from([1, 1, 1, 0, 0, 2, 8, 8, 9, 10, 3, 11]),
                   st.binary(max_size=300) | st.text(max_size=100).map(str.encode)
                   | frame_like.map(lambda f: json.dumps(f).encode()),
                   st.booleans(), st.sampled_from([0, 0, 0, 0, 1, 4]), st.sampled_from([True, True, True, False]),
                   st.sampled_from([0, 0, 0, 1, 2]))
streams = st.one_of(st.binary(min_size=1, max_size=400), st.lists(frames, min_size=1, max_size=6).map(b"".join))


def _read_all(sock):
    data = b""
    sock.settimeout(timeout(5))
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _server_frames(data):
    """Split what the server sent into (opcode, payload); every frame must be well formed."""
    found, at = [], 0
    while at < len(data):
        first, second = data[at], data[at + 1]
        assert first & 0x70 == 0 and second & 0x80 == 0, "server frames are unmasked, no RSV bits"
        length, at = second & 0x7F, at + 2
        if length == 126:
            length, at = struct.unpack("!H", data[at:at + 2])[0], at + 2
        elif length == 127:
            length, at = struct.unpack("!Q", data[at:at + 8])[0], at + 8
        found.append((first & 0x0F, data[at:at + length]))
        at += length
    assert at == len(data), "a truncated frame from the server"
    return found


@FUZZ
@given(streams)
def test_any_bytes_end_in_frames_and_a_proper_close(fuzz_server, stream):
    """Arbitrary bytes after the handshake: the server answers with well-formed frames and,
    if it closes, a close code of PROTOCOL.md (or the client's own valid code, echoed)."""
    sock, status, _ = handshake(fuzz_server, "/ws/bytes_fuzzer")
    assert status == 101
    try:
        sock.sendall(stream)
        sock.shutdown(socket.SHUT_WR)
        sent = _server_frames(_read_all(sock))
    finally:
        sock.close()
    assert sent and sent[0][0] == wsproto.OP_TEXT and json.loads(sent[0][1])["type"] == "hello"
    for opcode, payload in sent:
        assert opcode in (wsproto.OP_TEXT, wsproto.OP_CLOSE, wsproto.OP_PONG), opcode
        if opcode == wsproto.OP_TEXT:
            frame = json.loads(payload)
            assert frame["type"] in ("hello", "synced", "message", "error", "presence")
            assert frame["type"] != "error" or frame["code"] in ERROR_CODES
        elif opcode == wsproto.OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if payload else None
            assert code in SERVER_CLOSE_CODES or (code is not None and 3000 <= code <= 4999), code
            payload[2:].decode("utf-8")
    assert [op for op, _ in sent].count(wsproto.OP_CLOSE) <= 1
    assert fuzz_server.get("/healthz")[0] == 200
