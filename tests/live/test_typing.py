"""Typing notices against a live server (contract v2, Typing): relayed, throttled, never stored."""

import time

import pytest
import websocket

from liveserver import EventStreamClient, Server, synced, timeout

INTERVAL = 0.6


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A server with a short typing interval, for the whole module."""
    server = Server(tmp_path_factory.mktemp("typing"), {"CHAT_TYPING_INTERVAL": str(INTERVAL)}).start()
    yield server
    server.stop()


def typing_frames(client, wait=0.5):
    """The typing frames `client` gets within `wait` seconds (presence frames skipped)."""
    frames, deadline = [], time.monotonic() + timeout(wait)
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = client.recv(left / timeout(1))
        except websocket.WebSocketTimeoutException:
            break
        if frame["type"] == "typing":
            frames.append(frame)
    return frames


def test_a_direct_notice_reaches_the_peer_once_per_interval(srv, name, clients):
    """bob hears ann typing, named as ann named the conversation; ann's other tab does not;
    a second notice within the interval is dropped, one after it passes."""
    ann, bob = name("ann"), name("bob")
    ann_tab, ann_other, bob_tab = synced(srv, clients, ann, ann, bob)
    ann_tab.send(type="typing", **{"with": bob.upper()})
    ann_tab.send(type="typing", **{"with": bob})
    assert typing_frames(bob_tab) == [{"type": "typing", "user": ann, "with": bob}]
    assert typing_frames(ann_other, 0.1) == []
    time.sleep(INTERVAL)
    ann_tab.send(type="typing", **{"with": bob})
    assert len(typing_frames(bob_tab)) == 1


def test_group_and_room_notices_go_to_the_others_in_them(srv, name, clients):
    """The group: everyone but the sender; a room: its members only."""
    ann, bob, cat = name("ann"), name("bob"), name("cat")
    room = name("desk")
    headers = {"Authorization": f"Bearer {srv.token(ann)}"}
    assert srv.request("POST", "/api/rooms", {"name": room}, headers)[0] == 201
    assert srv.request("POST", f"/api/rooms/{room}/join", None, {"Authorization": f"Bearer {srv.token(bob)}"})[0] == 200
    ann_tab, bob_tab, cat_tab = synced(srv, clients, ann, bob, cat)
    ann_tab.send(type="typing", room=room)
    assert typing_frames(bob_tab) == [{"type": "typing", "user": ann, "room": room}]
    assert typing_frames(cat_tab, 0.1) == [] and typing_frames(ann_tab, 0.1) == []
    bob_tab.send(type="typing", **{"with": "*"})
    assert {"type": "typing", "user": bob, "with": "*"} in typing_frames(cat_tab)
    assert typing_frames(bob_tab, 0.1) == []


def test_bad_notices_are_errors_and_the_socket_lives(srv, name, clients):
    """unknown_user, unknown_room, not_member, two conversations or none: error frames."""
    ann, bob = name("ann"), name("bob")
    room = name("closed")
    srv.request("POST", "/api/rooms", {"name": room}, {"Authorization": f"Bearer {srv.token(bob)}"})
    (client,) = synced(srv, clients, ann)
    for frame, expected in (({"with": name("nobody")}, "unknown_user"), ({"room": name("nowhere")}, "unknown_room"),
                            ({"room": room}, "not_member"), ({"with": bob, "room": room}, "bad_message"),
                            ({}, "bad_message")):
        client.send(type="typing", **frame)
        error = client.recv_until(lambda f: f["type"] == "error")
        assert error["code"] == expected, frame
    client.send(msg="still here", cid="k")
    assert client.recv_until(lambda f: f.get("cid") == "k")["type"] == "message"


def test_http_notices_reach_event_streams_and_nothing_is_stored(srv, name, clients):
    """POST /api/typing is 204; an event stream hears it with no id; no backlog holds it."""
    ann, bob = name("ann"), name("bob")
    srv.token(ann)
    stream = EventStreamClient(srv, f"/events/{bob}", {"Authorization": f"Bearer {srv.token(bob)}"})
    stream.until(lambda event: event["event"] == "synced")
    status, _, _ = srv.request("POST", "/api/typing", {"with": bob}, {"Authorization": f"Bearer {srv.token(ann)}"})
    assert status == 204
    event = stream.until(lambda event: event["event"] == "typing")
    assert event["data"] == {"type": "typing", "user": ann, "with": bob} and "id" not in event
    stream.close()
    status, answer, _ = srv.request("POST", "/api/typing", {"room": "x", "with": bob},
                                    {"Authorization": f"Bearer {srv.token(ann)}"})
    assert (status, answer["error"]["code"]) == (400, "bad_message")
    again = clients(srv.connect(bob, since=0))
    _, backlog, _ = again.sync()
    assert all(frame["type"] != "typing" for frame in backlog)


def test_no_group_typing_past_the_presence_limit(start_server, name, clients):
    """With more users online than CHAT_PRESENCE_LIMIT, group typing is dropped; direct is not."""
    server = start_server(CHAT_PRESENCE_LIMIT="1")
    ann, bob = name("ann"), name("bob")
    ann_tab, bob_tab = synced(server, clients, ann, bob)
    ann_tab.send(type="typing", **{"with": "*"})
    assert typing_frames(bob_tab) == []
    ann_tab.send(type="typing", **{"with": bob})
    assert len(typing_frames(bob_tab)) == 1
