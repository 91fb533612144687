"""The per-address limits against a live server: connections, the message bucket of all an
address's users, the exemption, X-Forwarded-For behind a trusted proxy, the header timeout."""

import socket
import time

import pytest
import websocket

from liveserver import Client, EventStreamClient, eventually, timeout

EVERYONE_LIMITED = {"CHAT_LIMIT_EXEMPT": "", "CHAT_ACCOUNTS_PER_ADDRESS": "100"}


def ws_refusal(srv, user, headers=()):
    """The HTTP status and body of a refused WebSocket handshake for `user`."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        Client(f"{srv.ws_url}/ws/{user}?token={srv.token(user)}", header=list(headers))
    return refused.value.status_code, refused.value.resp_body


def sse(srv, user, forwarded=None):
    """An event stream of `user`, from the address `forwarded` (X-Forwarded-For) when given."""
    headers = {"Authorization": f"Bearer {srv.token(user)}"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    return EventStreamClient(srv, f"/events/{user}", headers)


def test_connections_per_address_are_429_at_the_handshake(start_server, name, clients):
    """Sockets and event streams of several users share one address's count; a closed one frees its place."""
    srv = start_server(CHAT_MAX_CONNECTIONS_PER_ADDRESS="3", **EVERYONE_LIMITED)
    users = [name("conn") for _ in range(3)]
    first = clients(srv.connect(users[0]))
    clients(srv.connect(users[1]))
    stream = sse(srv, users[2])
    assert stream.status == 200
    status, body = ws_refusal(srv, users[0])
    assert status == 429 and b"too_many_connections" in body
    refused = sse(srv, users[1])
    assert refused.status == 429 and b"too_many_connections" in refused.response.read()
    first.close()
    eventually(lambda: sse(srv, users[0]).status == 200)
    stream.close()


def test_one_bucket_for_all_the_users_of_an_address(start_server, name, clients):
    """Three users under their own rate, over the address's burst together: rate_limited, and
    the same bucket counts POST /api/messages."""
    srv = start_server(CHAT_ADDRESS_RATE_PER_SECOND="0.01", CHAT_ADDRESS_RATE_BURST="4", **EVERYONE_LIMITED)
    users = [name("rate") for _ in range(3)]
    sockets = [clients(srv.connect(user)) for user in users]
    for client in sockets:
        client.sync()
    for n in range(4):
        sockets[n % 3].send(msg=f"m{n}", cid=f"c{n}")
        assert sockets[n % 3].recv_until(lambda f, n=n: f.get("cid") == f"c{n}")["type"] == "message"
    sockets[2].send(msg="one too many", cid="late")
    error = sockets[2].recv_until(lambda f: f.get("cid") == "late")
    assert error["type"] == "error" and error["code"] == "rate_limited" and "address" in error["detail"]
    status, body, _ = srv.request("POST", "/api/messages", {"msg": "over http"},
                                  headers={"Authorization": f"Bearer {srv.token(users[0])}"})
    assert status == 429 and body["error"]["code"] == "rate_limited"


def test_loopback_is_exempt_by_default(start_server, name, clients):
    """With the default CHAT_LIMIT_EXEMPT, clients on the host itself are not counted."""
    srv = start_server(CHAT_MAX_CONNECTIONS_PER_ADDRESS="1", CHAT_ADDRESS_RATE_BURST="1")
    user = name("local")
    two = [clients(srv.connect(user)) for _ in range(2)]
    two[0].sync()
    for n in range(3):
        two[0].send(msg=f"m{n}", cid=f"c{n}")
        assert two[0].recv_until(lambda f, n=n: f.get("cid") == f"c{n}")["type"] == "message"


def test_behind_a_trusted_proxy_the_forwarded_address_counts(start_server, name, clients):
    """X-Forwarded-For decides the address: one forwarded address is limited, another is not,
    and the proxy's own loopback address stays exempt."""
    srv = start_server(CHAT_TRUSTED_PROXIES="1", CHAT_MAX_CONNECTIONS_PER_ADDRESS="1",
                       CHAT_ACCOUNTS_PER_ADDRESS="100")
    ann, bob = name("ann"), name("bob")
    held = sse(srv, ann, forwarded="203.0.113.5")
    assert held.status == 200
    assert sse(srv, bob, forwarded="203.0.113.5").status == 429
    status, _ = ws_refusal(srv, bob, ["X-Forwarded-For: 203.0.113.5"])
    assert status == 429
    other = sse(srv, bob, forwarded="203.0.113.6")
    assert other.status == 200
    for _ in range(2):
        clients(srv.connect(bob))  # loopback, exempt
    held.close()
    other.close()


def raw_connection(srv):
    """A plain TCP connection to `srv`."""
    return socket.create_connection(("127.0.0.1", srv.port), timeout=timeout(5))


def closed_by_server(sock, seconds):
    """True when the server closes `sock` (EOF or a reset) within `seconds`."""
    sock.settimeout(timeout(seconds))
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return False
    return True


@pytest.mark.parametrize("gunicorn", [False, True], ids=["gevent", "gunicorn"])
def test_slow_headers_are_cut_off(start_server, gunicorn):
    """A client trickling its headers is closed after CHAT_HEADER_TIMEOUT although it keeps
    sending; a kept-alive connection gets the same time for its next request; a prompt
    request is answered."""
    srv = start_server(gunicorn=gunicorn, CHAT_HEADER_TIMEOUT="1")
    trickle = raw_connection(srv)
    started = time.monotonic()
    trickle.sendall(b"GET /healthz HTTP/1.1\r\n")
    with pytest.raises(OSError):
        for _ in range(int(timeout(10) / 0.2)):
            trickle.sendall(b"X-Slow: a\r\n")
            time.sleep(0.2)
    assert time.monotonic() - started < timeout(5)
    trickle.close()

    kept = raw_connection(srv)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert kept.recv(4096).startswith(b"HTTP/1.1 200")
    assert closed_by_server(kept, 5)
    kept.close()
    assert srv.get("/healthz")[0] == 200
