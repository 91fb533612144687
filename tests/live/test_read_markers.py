"""Read markers and unread counts against a live server (contract v2), on SQLite and PostgreSQL:
read frames and POST /api/read, the read frames delivered, GET /api/conversations."""

import pytest

from liveserver import EventStreamClient, bearer, synced


@pytest.fixture(params=["sqlite", "postgresql"])
def srv(request, start_server):
    """A server on each store."""
    if request.param == "postgresql":
        return start_server(CHAT_DATABASE_URL=request.getfixturevalue("pg_url"))
    return start_server()


def is_read(frame):
    """Matches a read frame."""
    return frame["type"] == "read"


def conversations(srv, user):
    """GET /api/conversations of `user`, as {"with" or "#room": item}, in the order given."""
    status, body, _ = srv.get("/api/conversations", bearer(srv, user))
    assert status == 200, body
    return {item.get("with") or "#" + item["room"]: item for item in body["conversations"]}


def send(client, cid, **frame):
    """Send a message and return its acknowledgement."""
    client.send(cid=cid, **frame)
    return client.recv_until(lambda f: f.get("cid") == cid)


def test_a_direct_marker_reaches_both_sides_and_counts_follow(srv, name, clients):
    """bob reads ann's first message: both his tabs and ann get the read frame; the counts
    and both markers follow; a lower marker changes nothing and tells nobody."""
    ann, bob = name("ann"), name("bob")
    ann_tab, bob_tab, bob_other = synced(srv, clients, ann, bob, bob)
    first = send(ann_tab, "m1", to_user=bob, msg="hi")
    second = send(ann_tab, "m2", to_user=bob, msg="there?")
    assert conversations(srv, bob)[ann] == {"with": ann, "last_id": second["id"], "read_up_to": 0, "unread": 2,
                                            "peer_read_up_to": second["id"]}
    bob_tab.send(type="read", up_to=first["id"], **{"with": ann.upper()})
    expected = {"type": "read", "user": bob, "with": ann, "up_to": first["id"]}
    for client in (bob_tab, bob_other, ann_tab):
        assert client.recv_until(is_read) == expected
    assert conversations(srv, bob)[ann]["unread"] == 1
    assert conversations(srv, ann)[bob] == {"with": bob, "last_id": second["id"], "read_up_to": second["id"],
                                            "unread": 0, "peer_read_up_to": first["id"]}
    bob_tab.send(type="read", up_to=first["id"] - 1, **{"with": ann})
    ann_tab.assert_silent()
    bob_other.assert_silent()
    assert srv.request("POST", "/api/read", {"with": ann, "up_to": 1}, bearer(srv, bob))[:2] == \
        (200, {"up_to": first["id"]})


def test_group_and_room_markers_go_to_the_users_own_connections_only(srv, name, clients):
    """Others hear nothing of one's group or room marker; the listing is newest activity first."""
    ann, bob = name("ann"), name("bob")
    room = name("desk")
    assert srv.request("POST", "/api/rooms", {"name": room}, bearer(srv, ann))[0] == 201
    assert srv.request("POST", f"/api/rooms/{room}/join", None, bearer(srv, bob))[0] == 200
    ann_tab, bob_tab = synced(srv, clients, ann, bob)
    in_room = send(ann_tab, "r1", room=room, msg="in the room")
    in_group = send(ann_tab, "g1", msg="to all")
    listing = conversations(srv, bob)
    assert list(listing)[:2] == ["*", "#" + room]
    assert listing["#" + room]["unread"] == 1 and "peer_read_up_to" not in listing["#" + room]
    bob_tab.send(type="read", room=room.upper(), up_to=in_room["id"])
    assert bob_tab.recv_until(is_read) == {"type": "read", "user": bob, "room": room, "up_to": in_room["id"]}
    bob_tab.send(type="read", up_to=in_group["id"], **{"with": "*"})
    assert bob_tab.recv_until(is_read) == {"type": "read", "user": bob, "with": "*", "up_to": in_group["id"]}
    ann_tab.assert_silent()
    assert {key: item["unread"] for key, item in conversations(srv, bob).items()} == {"*": 0, "#" + room: 0}


def test_http_markers_reach_event_streams_without_an_id(srv, name, clients):
    """POST /api/read answers the marker; the user's event stream gets the read frame, with no id."""
    ann, bob = name("ann"), name("bob")
    srv.token(bob)  # bob has logged in: ann may write to him
    (ann_tab,) = synced(srv, clients, ann)
    message = send(ann_tab, "m1", to_user=bob, msg="hi")
    stream = EventStreamClient(srv, f"/events/{bob}", bearer(srv, bob))
    stream.until(lambda event: event["event"] == "synced")
    status, body, _ = srv.request("POST", "/api/read", {"type": "read", "with": ann, "up_to": message["id"]},
                                  bearer(srv, bob))
    assert (status, body) == (200, {"up_to": message["id"]})
    event = stream.until(lambda event: event["event"] == "read")
    assert event["data"] == {"type": "read", "user": bob, "with": ann, "up_to": message["id"]} and "id" not in event
    stream.close()
    assert ann_tab.recv_until(is_read)["up_to"] == message["id"]
    _, backlog, _ = clients(srv.connect(bob, since=0)).sync()
    assert all(frame["type"] != "read" for frame in backlog)


def test_bad_markers_are_refused_change_nothing_and_the_socket_lives(srv, name, clients):
    """Above the newest id: bad_message; an unknown user or room, a room not joined, a
    wrong up_to: each its error with a detail, over the socket and over HTTP."""
    ann, bob = name("ann"), name("bob")
    room, hidden = name("open"), name("hidden")
    srv.request("POST", "/api/rooms", {"name": room}, bearer(srv, bob))
    srv.request("POST", "/api/rooms", {"name": hidden, "private": True}, bearer(srv, bob))
    (ann_tab,) = synced(srv, clients, ann)
    newest = send(ann_tab, "m1", msg="hello")["id"]
    before = conversations(srv, ann)
    cases = [({"with": "*", "up_to": newest + 1}, "bad_message", 400),
             ({"with": name("nobody"), "up_to": 1}, "unknown_user", 404),
             ({"room": name("nowhere"), "up_to": 1}, "unknown_room", 404),
             ({"room": hidden, "up_to": 1}, "unknown_room", 404),
             ({"room": room, "up_to": 1}, "not_member", 403),
             ({"with": "*", "up_to": "1"}, "bad_message", 400),
             ({"with": "*", "up_to": -1}, "bad_message", 400),
             ({"with": "*", "up_to": True}, "bad_message", 400),
             ({"with": "*", "room": room, "up_to": 1}, "bad_message", 400),
             ({"up_to": 1}, "bad_message", 400)]
    for frame, code, status in cases:
        ann_tab.send(type="read", **frame)
        error = ann_tab.recv_until(lambda f: f["type"] == "error")
        assert error["code"] == code and error["detail"], frame
        answer = srv.request("POST", "/api/read", frame, bearer(srv, ann))
        assert (answer[0], answer[1]["error"]["code"]) == (status, code), frame
    assert "above the newest id" in send_error(ann_tab, {"with": "*", "up_to": newest + 1})["detail"]
    assert conversations(srv, ann) == before
    assert send(ann_tab, "m2", msg="still here")["type"] == "message"


def send_error(client, frame):
    """Send a read frame and return the error it gets."""
    client.send(type="read", **frame)
    return client.recv_until(lambda f: f["type"] == "error")
