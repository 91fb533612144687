"""The HTTP side: Server-Sent Events on /events, POST /api/messages, and their errors."""

import json
import socket
import urllib.parse

import pytest

from liveserver import EventStreamClient, timeout


def events(srv, user, token=True, since=None, headers=None):
    """An EventStreamClient for `user` (with a fresh token unless token is False or given)."""
    query = {}
    if token:
        query["token"] = srv.token(user) if token is True else token
    if since is not None:
        query["since"] = since
    path = f"/events/{urllib.parse.quote(user)}" + ("?" + urllib.parse.urlencode(query) if query else "")
    return EventStreamClient(srv, path, headers)


def post(srv, user, body, headers=None, raw=None):
    """POST /api/messages as `user` (Bearer token); returns (status, body, headers)."""
    headers = {"Authorization": f"Bearer {srv.token(user)}", **(headers or {})}
    if raw is not None:
        return srv.request("POST", "/api/messages", raw=raw, headers=headers)
    return srv.request("POST", "/api/messages", body, headers)


def until_synced(stream):
    """Read hello, backlog and synced; return (hello, backlog message events)."""
    hello = stream.next_event()
    assert hello["event"] == "hello" and "id" not in hello
    backlog = []
    while (event := stream.next_event())["event"] != "synced":
        backlog.append(event)
    return hello["data"], backlog


def test_an_event_reaches_sse_and_socket_alike(server, clients):
    """alice on a socket and on SSE; bob's direct message reaches both, the same frame."""
    sock = clients(server.connect("alice_h"))
    sock.sync()
    stream = events(server, "alice_h")
    assert stream.status == 200 and stream.response.headers["Content-Type"].startswith("text/event-stream")
    hello, _ = until_synced(stream)
    assert hello["user"] == "alice_h" and "alice_h" in hello["online"]
    bob = clients(server.connect("bob_h"))
    bob.sync()
    bob.send(to_user="alice_h", msg="to both of you", cid="b1")
    by_socket = sock.recv_type("message")
    by_stream = stream.until(lambda e: e["event"] == "message")
    assert by_stream["data"] == by_socket and by_stream["id"] == str(by_socket["id"])
    stream.close()


def test_last_event_id_resumes_and_wins_over_since(server, clients):
    """Last-Event-ID: N sends the visible messages after N, then synced."""
    writer = clients(server.connect("writer_h"))
    writer.sync()
    server.token("reader_h")  # reader_h must be known before direct messages to it
    ids = []
    for i in range(3):
        writer.send(to_user="reader_h", msg=f"dm{i}", cid=f"d{i}")
        ids.append(writer.recv_until(lambda f, i=i: f.get("cid") == f"d{i}")["id"])
    stream = events(server, "reader_h", since=0, headers={"Last-Event-ID": str(ids[0])})
    _, backlog = until_synced(stream)
    assert [int(e["id"]) for e in backlog] == ids[1:]
    assert [e["data"]["msg"] for e in backlog] == ["dm1", "dm2"]
    stream.close()
    stream = events(server, "reader_h", since=ids[1])
    assert [e["data"]["msg"] for e in until_synced(stream)[1]] == ["dm2"]
    stream.close()


def test_a_stream_counts_for_presence_and_the_connection_limit(start_server, clients):
    """Opening a stream brings its user online; hanging up takes them offline; the limit counts it."""
    srv = start_server(CHAT_MAX_CONNECTIONS_PER_USER="1", CHAT_SSE_HEARTBEAT="0.3")
    watcher = clients(srv.connect("watcher"))
    watcher.sync()
    stream = events(srv, "streamer")
    until_synced(stream)
    assert watcher.recv() == {"type": "presence", "user": "streamer", "online": True}
    second = events(srv, "streamer")
    assert second.status == 429
    assert stream.response.readline() == b": keepalive\n"  # the heartbeat, after 0.3 s of quiet
    stream.close()
    assert watcher.recv() == {"type": "presence", "user": "streamer", "online": False}


@pytest.mark.parametrize("user, token, headers, status", [
    ("nobody_h", False, {}, 401),
    ("victim_h", "mallory_h", {}, 403),
    ("fine_h", True, {"Origin": "https://evil.example"}, 403),
    ("bad name", False, {}, 400),
    ("fine_h", True, {"Last-Event-ID": "-1"}, 400),
])
def test_stream_handshakes_are_checked_like_sockets(server, user, token, headers, status):
    """Identity, origin, name and resume point are checked before any event."""
    if token == "mallory_h":
        token = server.token("mallory_h")
    stream = events(server, user, token=token, headers=headers)
    assert stream.status == status
    assert "error" in json.loads(stream.response.read())
    stream.close()


def test_post_sends_as_the_caller(server, clients):
    """201 with the stored message; the recipient and the sender's sockets get it; a cid resend is 200."""
    server.token("dora_h")
    dora = clients(server.connect("dora_h"))
    dora.sync()
    cole = clients(server.connect("cole_h"))
    cole.sync()
    status, body, _ = post(server, "cole_h", {"to_user": "dora_h", "msg": "over http", "cid": "h1"})
    assert status == 201
    assert body["type"] == "message" and body["cid"] == "h1" and body["from_user"] == "cole_h"
    assert dora.recv_type("message") == {k: v for k, v in body.items() if k != "cid"}
    assert cole.recv_type("message")["id"] == body["id"]
    again, repeat, _ = post(server, "cole_h", {"to_user": "dora_h", "msg": "over http", "cid": "h1"})
    assert again == 200 and repeat == body
    dora.assert_silent()


@pytest.mark.parametrize("body, raw, headers, status, code", [
    (None, b"{nope", {"Content-Type": "application/json"}, 400, "bad_json"),
    (None, b"\xff\xfe", {"Content-Type": "application/json"}, 400, "bad_json"),
    ({"msg": ""}, None, {}, 400, "bad_message"),
    ({"msg": 5}, None, {}, 400, "bad_message"),
    ({"msg": "x" * 4001}, None, {}, 413, "too_long"),
    ({"msg": "x" * 70000}, None, {}, 413, "request_entity_too_large"),
    ({"msg": "hi", "to_user": "never_logged_in"}, None, {}, 404, "unknown_user"),
    (None, b"msg=hi", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ({"msg": "hi"}, None, {"Origin": "https://evil.example"}, 403, "bad_origin"),
])
def test_post_errors_are_http_statuses(server, body, raw, headers, status, code):
    """Each refusal of a socket frame is a fitting HTTP status with the same error code."""
    got, answer, _ = post(server, "errs_h", body, headers, raw)
    assert (got, answer["error"]["code"]) == (status, code), answer


def test_post_needs_a_caller_and_keeps_the_rate(start_server):
    """No credentials: 401. Past the burst: 429 with Retry-After."""
    srv = start_server(CHAT_RATE_PER_SECOND="0.01", CHAT_RATE_BURST="2")  # no token back within the test
    assert srv.request("POST", "/api/messages", {"msg": "hi"})[0] == 401
    token = srv.token("quick_h")
    bearer = {"Authorization": f"Bearer {token}"}
    statuses = [srv.request("POST", "/api/messages", {"msg": f"m{i}"}, bearer)[0] for i in range(3)]
    assert statuses == [201, 201, 429]
    _, body, headers = srv.request("POST", "/api/messages", {"msg": "m4"}, bearer)
    assert body["error"]["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1


def test_streams_work_under_gunicorn(start_server, clients):
    """The gunicorn worker serves event streams too."""
    srv = start_server(gunicorn=True)
    stream = events(srv, "gun_h")
    until_synced(stream)
    sender = clients(srv.connect("gun_sender"))
    sender.sync()
    sender.send(msg="through gunicorn")
    assert stream.until(lambda e: e["event"] == "message")["data"]["msg"] == "through gunicorn"
    stream.close()


def _read_response(sock):
    """One HTTP/1.1 response with a Content-Length off `sock`: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        body += chunk
    return int(head.split()[1]), body[:length]


def test_a_refused_stream_leaves_its_connection_to_the_next_request(start_server):
    """After a stream refused 429, the same keep-alive connection answers its next requests
    (pipelined, and later): nothing of the refused stream reads that socket any more."""
    srv = start_server(CHAT_MAX_CONNECTIONS_PER_USER="1", CHAT_AUTH="open")
    first = events(srv, "keepalive_h", token=False)
    until_synced(first)
    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout(5)) as sock:
        sock.sendall(b"GET /events/keepalive_h HTTP/1.1\r\nHost: x\r\n\r\n" + health)
        assert _read_response(sock)[0] == 429
        assert _read_response(sock)[0] == 200
        for _ in range(3):
            sock.sendall(health)
            status, body = _read_response(sock)
            assert status == 200 and json.loads(body) == {"status": "ok"}
    first.close()
    assert "Traceback" not in srv.log()
