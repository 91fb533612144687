"""Every gevent-websocket flaw of ../shared/STACK.md, shown handled on a live server."""

import json
import os
import socket
import struct
import time

import pytest
import websocket
from liveserver import UNLIMITED, Server
from rawws import close_code, frame, handshake, read_frame

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    """A server with the echo endpoint on and a short keepalive."""
    srv = Server(tmp_path_factory.mktemp("echo"), {
        "CHAT_ECHO_ENDPOINT": "1", "CHAT_AUTH": "open", "CHAT_PING_INTERVAL": "0.3",
        "CHAT_IDLE_TIMEOUT": "1.2",
        "CHAT_ALLOWED_ORIGINS": "https://friend.example"}).start()
    yield srv
    srv.stop()


def opened(server, path="/echo", **kwargs):
    """A raw socket past a successful upgrade."""
    sock, status, head = handshake(server, path, **kwargs)
    assert status == 101, head
    return sock


def test_a_2gib_header_closes_1009_without_growing_memory(echo):
    """Ten frames announcing 2 GiB each are refused from the header; RSS stays flat."""
    before = echo.rss_kb()
    socks = [opened(echo) for _ in range(10)]
    for sock in socks:
        sock.sendall(frame(TEXT, b"", length=2 << 30)[:14])
    for sock in socks:
        code, reason = close_code(sock)
        assert code == 1009 and reason
    assert echo.rss_kb() - before < 20_000


def test_frames_go_out_without_waiting_for_the_peers_ack(echo):
    """TCP_NODELAY on accepted sockets: otherwise a small frame sent while the previous one
    is unacknowledged waits for the peer's delayed ACK, up to 40 ms."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, b"hi"))
    assert read_frame(sock) == (TEXT, b"hi")  # the server has the socket past its handshake
    assert echo.socket_option(sock, socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_frames_of_one_loop_turn_share_a_send(echo):
    """Twenty echoes made in one turn of the server's loop go out in one send, so in one
    TCP segment: not twenty, as they would with TCP_NODELAY and a send per frame."""
    sock = opened(echo)
    sock.sendall(b"".join(frame(TEXT, b"%d" % i) for i in range(20)))
    assert [read_frame(sock) for _ in range(20)] == [(TEXT, b"%d" % i) for i in range(20)]
    info = echo.socket_option(sock, socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    data_segments_out = struct.unpack_from("I", info, 156)[0]  # tcpi_data_segs_out (Linux 4.6)
    assert 2 <= data_segments_out <= 4  # the 101 response, then the echoes (in one or a few reads)


def test_a_frame_just_over_the_limit_closes_1009(echo):
    """64 KiB + 1 announced: 1009, decided before the payload is read."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, b"", length=65537)[:14])
    assert close_code(sock)[0] == 1009


def test_a_frame_at_the_limit_passes(echo):
    """64 KiB exactly is allowed and unmasked correctly."""
    sock = opened(echo)
    payload = os.urandom(32768).hex().encode()
    sock.sendall(frame(TEXT, payload))
    assert read_frame(sock) == (TEXT, payload)


def test_fragments_adding_up_past_the_limit_close_1009(echo):
    """The size cap counts the whole fragmented message."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, b"a" * 40000, fin=False) + frame(CONT, b"a" * 40000))
    assert close_code(sock)[0] == 1009


def test_endless_empty_fragments_close_1009(echo):
    """Each fragment counts toward the size limit, so empty ones cannot go on forever."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, b"", fin=False) + frame(CONT, b"", fin=False) * (65536 // 8 + 1))
    assert close_code(sock)[0] == 1009


def test_fragmented_message_with_interleaved_ping_is_reassembled(echo):
    """Fragments join into one message; a ping between them is answered first."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, "héllo ".encode()[:2], fin=False) + frame(PING, b"p")
                 + frame(CONT, "héllo ".encode()[2:]))
    assert read_frame(sock) == (PONG, b"p")
    assert read_frame(sock) == (TEXT, "héllo ".encode())


def test_unmasked_client_frames_close_1002(echo):
    """RFC 6455 requires masked client frames."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, b"hi", mask=False))
    assert close_code(sock)[0] == 1002


@pytest.mark.parametrize("bad", [
    frame(TEXT, b"hi", rsv=0x40),
    frame(0x3, b"hi"),
    frame(PING, b"x" * 126),
    frame(PING, b"", fin=False),
    frame(CONT, b"lonely"),
    frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"),
])
def test_protocol_errors_close_1002(echo, bad):
    """Reserved bits, unknown opcodes, bad control frames and bad fragmentation: 1002."""
    sock = opened(echo)
    sock.sendall(bad)
    assert close_code(sock)[0] == 1002


def test_invalid_utf8_closes_1007(echo):
    """A text frame that is not UTF-8 closes with 1007."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, b"\xff\xfe"))
    assert close_code(sock)[0] == 1007


def test_invalid_utf8_fails_fast_inside_a_fragmented_message(echo):
    """Bad UTF-8 in a first fragment closes 1007 before the message ends."""
    sock = opened(echo)
    sock.sendall(frame(TEXT, b"ok\xc0\xaf", fin=False))
    assert close_code(sock)[0] == 1007


def test_utf8_split_across_fragments_is_fine(echo):
    """A code point cut between fragments is valid."""
    sock = opened(echo)
    data = "€".encode()
    sock.sendall(frame(TEXT, data[:1], fin=False) + frame(CONT, data[1:]))
    assert read_frame(sock) == (TEXT, data)


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4000, 4999])
def test_a_client_close_is_answered_with_its_code(echo, code):
    """The server answers a close with the client's code, then ends the connection."""
    sock = opened(echo)
    sock.sendall(frame(CLOSE, struct.pack("!H", code) + b"bye"))
    assert close_code(sock)[0] == code
    assert read_frame(sock) == (None, b"")


def test_an_empty_close_is_answered_1000(echo):
    """A close with no code is answered with 1000."""
    sock = opened(echo)
    sock.sendall(frame(CLOSE))
    assert close_code(sock)[0] == 1000


@pytest.mark.parametrize("payload", [b"\x03", struct.pack("!H", 1005), struct.pack("!H", 999),
                                     struct.pack("!H", 2000), struct.pack("!H", 1000) + b"\xff"])
def test_invalid_close_frames_close_1002_or_1007(echo, payload):
    """Close codes no peer may send, a one-byte payload, or a bad reason fail the connection."""
    sock = opened(echo)
    sock.sendall(frame(CLOSE, payload))
    assert close_code(sock)[0] in (1002, 1007)


def test_ping_is_answered_with_the_same_payload(echo):
    """Pings get pongs carrying their payload."""
    sock = opened(echo)
    sock.sendall(frame(PING, b"are you there"))
    assert read_frame(sock) == (PONG, b"are you there")


def test_large_messages_are_unmasked_exactly(echo):
    """Fast unmasking gives back every byte of a 60 KB text and binary message."""
    sock = opened(echo)
    text = os.urandom(30000).hex().encode()
    sock.sendall(frame(TEXT, text))
    assert read_frame(sock) == (TEXT, text)
    blob = os.urandom(60001)
    sock.sendall(frame(BINARY, blob))
    assert read_frame(sock) == (BINARY, blob)


def test_quiet_peers_are_pinged_and_silent_ones_closed(echo):
    """A peer that never answers gets pings, then close 1011 after the idle timeout."""
    sock = opened(echo)
    start = time.monotonic()
    assert read_frame(sock)[0] == PING
    code, reason = close_code(sock)
    assert code == 1011 and "keepalive" in reason
    assert 1.0 < time.monotonic() - start < 4


def test_peers_that_answer_pings_stay(echo):
    """A client that answers pings outlives the idle timeout."""
    client = websocket.create_connection(echo.ws_url + "/echo", timeout=5)
    client.settimeout(0.2)
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        try:
            client.recv()  # websocket-client answers pings inside recv
        except websocket.WebSocketTimeoutException:
            pass
    client.send("still open")
    client.settimeout(5)
    assert client.recv() == "still open"
    client.close()


@pytest.mark.parametrize("kwargs, status", [
    ({"key": "not base64!"}, 400),
    ({"key": "c2hvcnQ="}, 400),
    ({"version": "8"}, 426),
    ({"version": None}, 426),
])
def test_bad_handshakes_get_a_json_error(echo, kwargs, status):
    """Malformed upgrades are answered with a status and a JSON body, no traceback."""
    sock, got, head = handshake(echo, "/echo", **kwargs)
    assert got == status
    body = sock.recv(4096)
    assert json.loads(body)["error"]["code"] == "bad_handshake"
    assert "Traceback" not in echo.log()


def _raw_request(server, header_lines):
    """Send a GET of /healthz with these header lines; return the status code."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(header_lines) + b"Connection: close\r\n\r\n")
        return int(sock.recv(4096).split(b" ", 2)[1])


@pytest.mark.parametrize("lines, status", [
    ([b"X-Note: one\r\n", b" folded on\r\n"], 200),
    ([b"X-Note: " + b"x" * 8000 + b"\r\n"], 200),
    ([b"no colon here\r\n"], 400),
    ([b"X-Note : space before the colon\r\n"], 400),
    ([b"X-Note: " + b"x" * 70000 + b"\r\n"], 400),
    ([b"X-Note: many\r\n"] * 101, 400),
])
def test_malformed_header_sections_get_400(echo, lines, status):
    """Header lines are read strictly: what is not `name: value` within the limits is a 400."""
    assert _raw_request(echo, lines) == status


@pytest.mark.parametrize("origin, status", [
    (None, 101),
    ("http://127.0.0.1:{port}", 101),
    ("https://friend.example", 101),
    ("https://evil.example", 403),
    ("http://127.0.0.1:1", 403),
])
def test_origin_is_checked_at_the_handshake(echo, origin, status):
    """Own origin, allowed origins and no Origin pass; any other origin gets 403."""
    headers = {"Origin": origin.format(port=echo.port)} if origin else {}
    _, got, head = handshake(echo, "/ws/origin_user", headers=headers)
    assert got == status, head


def test_connections_past_the_per_user_limit_close_1008(start_server):
    """The third connection of a user (limit 2) is refused with 1008."""
    srv = start_server(CHAT_AUTH="open", CHAT_MAX_CONNECTIONS_PER_USER="2")
    keep = [websocket.create_connection(srv.ws_url + "/ws/limited") for _ in range(2)]
    for client in keep:  # registered: the first two hold their places
        client.settimeout(5)
        assert json.loads(client.recv())["type"] == "hello"
    third = websocket.create_connection(srv.ws_url + "/ws/limited")
    third.settimeout(5)
    while True:
        received = third.recv_frame()
        if received.opcode == CLOSE:
            break
    assert struct.unpack("!H", received.data[:2])[0] == 1008
    for client in keep:
        client.close()


def test_echo_is_off_by_default(server):
    """/echo exists only with CHAT_ECHO_ENDPOINT=1."""
    sock, status, _ = handshake(server, "/echo")
    sock.close()
    assert status == 404


def test_slow_consumer_is_closed_4001_and_leaves_at_once(start_server, clients):
    """A client that stops reading is cut at the queue limit; others see it go offline."""
    srv = start_server(CHAT_AUTH="open", CHAT_MAX_QUEUE_BYTES="65536", **UNLIMITED)
    watcher = clients(srv.connect("watcher", token=False))
    watcher.sync()
    sock, status, _ = handshake(srv, "/ws/slow")  # and never reads
    assert status == 101
    sender = clients(srv.connect("sender", token=False))
    sender.sync()
    # Direct messages, so that only `slow` is flooded: enough to fill the kernel's
    # buffers and then the 64 KiB queue. Stop as soon as the watcher sees `slow`
    # leave, then read: the close frame follows the data already sent.
    offline = {"type": "presence", "user": "slow", "online": False}
    for batch in range(40):
        for ten in range(0, 100, 10):  # the sender reads its acks as it goes: it is no slow consumer
            for i in range(ten, ten + 10):
                sender.send(to_user="slow", msg=f"{batch}.{i} " + "x" * 3000)
            for i in range(10):
                sender.recv_type("message")
        try:
            if watcher.recv_until(lambda f: f == offline, wait=0.05):
                break
        except websocket.WebSocketTimeoutException:
            continue
    else:
        pytest.fail("slow never left")
    assert close_code(sock)[0] == 4001


def test_auth_refuses_missing_and_foreign_tokens(server):
    """names mode: no token is 401, another user's token is 403, a forged one 401."""
    for token, status in [(False, 401), (server.token("mallory"), 403), ("forged.token.x", 401)]:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            server.connect("alice", token=token)
        assert info.value.status_code == status


# A reader quiet through a whole tick of LINGER (1 s) hands its socket back: 2 s at most.
PARKED = 2.2


def test_a_connection_quiet_past_the_linger_still_talks(start_server, clients):
    """A quiet socket is handed to the loop (no reader greenlet); data, pings and closes still wake it."""
    srv = start_server(CHAT_AUTH="open")
    ann = clients(srv.connect("ann_q", token=False))
    ann.sync()
    bob = clients(srv.connect("bob_q", token=False))
    bob.sync()
    time.sleep(PARKED)  # both are parked
    ann.send(to_user="bob_q", msg="after a pause", cid="p1")
    assert ann.recv_type("message")["cid"] == "p1"
    assert bob.recv_type("message")["msg"] == "after a pause"
    time.sleep(PARKED)
    bob.ws.ping(b"still there?")
    pong = bob.ws.recv_frame()
    assert (pong.opcode, pong.data) == (websocket.ABNF.OPCODE_PONG, b"still there?")
    time.sleep(PARKED)
    bob.ws.send_close(4000, "bye")
    assert bob.close_frame() == (4000, "")


def test_frames_sent_with_the_handshake_are_read(start_server):
    """A client that sends a frame in the same packet as its upgrade request loses nothing."""
    srv = start_server(CHAT_AUTH="open")
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    request = (f"GET /ws/eager HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    sock.sendall(request + frame(TEXT, json.dumps({"msg": "at once", "cid": "e1"}).encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    kinds = []
    while "message" not in kinds:
        opcode, payload = read_frame(sock)
        assert opcode == TEXT
        got = json.loads(payload)
        kinds.append(got["type"])
    assert kinds[0] == "hello" and "synced" in kinds and got["cid"] == "e1"
    sock.close()
