"""Crowds: many comings and goings at once, and presence past CHAT_PRESENCE_LIMIT."""

import socket
import struct

import pytest

import rawws
from liveserver import Client


@pytest.fixture
def open_server(start_server):
    """A server where anyone may connect by name (no tokens to fetch for a crowd)."""
    return lambda **env: start_server(CHAT_AUTH="open", **env)


def joined(server, user):
    """A Client on /ws/<user> that has read up to synced; returns (client, hello)."""
    client = Client(f"{server.ws_url}/ws/{user}")
    hello, _, _ = client.sync()
    return client, hello


def test_a_crowd_hanging_up_at_once_goes_offline(open_server):
    """300 connections reset at the same instant: each goes offline, the server stays whole.

    Telling the others that one left finds the next dead socket, and so on: that chain
    must not run on the stack of the first (it once overflowed it and lost the rest).
    """
    server = open_server()
    watcher, _ = joined(server, "watcher")
    crowd = []
    for i in range(300):
        sock, status, _ = rawws.handshake(server, f"/ws/crowd{i}")
        assert status == 101
        crowd.append(sock)
    online = {watcher.recv(wait=10)["user"] for _ in crowd}
    assert online == {f"crowd{i}" for i in range(300)}
    for sock in crowd:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends a reset
        sock.close()
    offline = [watcher.recv(wait=10) for _ in crowd]
    assert {f["user"] for f in offline} == online and not any(f["online"] for f in offline)
    late, hello = joined(server, "late")
    assert sorted(hello["online"]) == ["late", "watcher"]
    assert "recursion" not in server.log()
    late.close()
    watcher.close()


def test_past_the_presence_limit_comings_and_goings_are_not_pushed(open_server):
    """With more users online than the limit, presence goes to nobody who shares nothing with
    the user; hello lists only the user; /api/users still tells everyone."""
    server = open_server(CHAT_PRESENCE_LIMIT="3")
    watcher, _ = joined(server, "watcher")
    ann, _ = joined(server, "ann")
    bob, _ = joined(server, "bob")
    assert [watcher.recv()["user"] for _ in range(2)] == ["ann", "bob"]
    cid, hello = joined(server, "cid")  # the fourth: past the limit
    assert hello["online"] == ["cid"] and hello["online_complete"] is False
    watcher.assert_silent(0.5)
    status, body, _ = server.request("GET", "/api/users")
    assert status == 200 and body["online"] == ["ann", "bob", "cid", "watcher"]
    bob.close()  # back to three: pushed again
    assert watcher.recv() == {"type": "presence", "user": "bob", "online": False}
    _, metrics, _ = server.request("GET", "/metrics")
    assert "chat_presence_unannounced_total 1.0" in metrics  # cid coming
    for client in (watcher, ann, cid):
        client.close()
