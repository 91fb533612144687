"""Rooms against a live server (contract v2, Rooms): the HTTP API, the socket's frames, SSE."""

import pytest

from liveserver import EventStreamClient


def api(srv, user, method, path, body=None):
    """A request as `user`; (status, parsed body)."""
    status, answer, _ = srv.request(method, path, body, headers={"Authorization": f"Bearer {srv.token(user)}"})
    return status, answer


def code(answer):
    """The error code of an error body."""
    return answer["error"]["code"]


@pytest.fixture
def people(server, name):
    """Three fresh users: ann, bob and cat."""
    return [server.token(user) and user for user in (name("ann"), name("bob"), name("cat"))]


def test_create_list_get_topic_join_leave_members(server, people, name):
    """Every room endpoint of the contract, answering ROOM as the caller sees it."""
    ann, bob, _ = people
    design = name("design")
    status, body = api(server, ann, "POST", "/api/rooms", {"name": design, "topic": "pixels"})
    assert status == 201 and body["room"] == {"name": design, "private": False, "topic": "pixels",
                                              "created_by": ann, "members": 1, "member": True}
    assert api(server, bob, "GET", f"/api/rooms/{design.upper()}")[1]["room"]["member"] is False
    assert design in [room["name"] for room in api(server, bob, "GET", "/api/rooms")[1]["rooms"]]
    assert code(api(server, bob, "PATCH", f"/api/rooms/{design}", {"topic": "mine"})[1]) == "not_member"
    for _ in range(2):  # joining twice answers the same
        status, body = api(server, bob, "POST", f"/api/rooms/{design}/join")
        assert status == 200 and body["room"]["members"] == 2 and body["room"]["member"]
    assert api(server, bob, "PATCH", f"/api/rooms/{design}", {"topic": "ours"})[1]["room"]["topic"] == "ours"
    status, body = api(server, ann, "GET", f"/api/rooms/{design}/members")
    assert status == 200 and sorted(m["user"] for m in body["members"]) == sorted([ann, bob])
    for _ in range(2):
        status, body = api(server, bob, "POST", f"/api/rooms/{design}/leave")
        assert status == 200 and body["room"] == {**body["room"], "members": 1, "member": False}


def test_a_private_room_does_not_exist_for_outsiders(server, people, name):
    """Every endpoint answers an outsider as for a room that does not exist; members add people."""
    ann, bob, cat = people
    hiring, nowhere = name("hiring"), name("nowhere")
    assert api(server, ann, "POST", "/api/rooms", {"name": hiring, "private": True})[0] == 201
    for room in (hiring, nowhere):
        for method, path, body in (("GET", f"/api/rooms/{room}", None), ("POST", f"/api/rooms/{room}/join", None),
                                   ("POST", f"/api/rooms/{room}/leave", None),
                                   ("GET", f"/api/rooms/{room}/members", None),
                                   ("PATCH", f"/api/rooms/{room}", {"topic": "x"}),
                                   ("POST", f"/api/rooms/{room}/members", {"user": cat}),
                                   ("GET", f"/api/messages?room={room}", None),
                                   ("POST", "/api/messages", {"room": room, "msg": "hello?"})):
            status, answer = api(server, cat, method, path, body)
            assert (status, code(answer)) == (404, "unknown_room"), (method, path)
    assert hiring not in [room["name"] for room in api(server, cat, "GET", "/api/rooms")[1]["rooms"]]
    assert api(server, ann, "POST", f"/api/rooms/{hiring}/members", {"user": bob})[1]["room"]["members"] == 2
    assert api(server, bob, "GET", f"/api/rooms/{hiring}")[1]["room"]["private"] is True
    assert code(api(server, ann, "POST", f"/api/rooms/{hiring}/members", {"user": name("nobody")})[1]) == \
        "unknown_user"


def test_room_messages_over_http(server, people, name):
    """Members post and read; a public room's history is readable by anyone logged in; outsiders may not post."""
    ann, bob, _ = people
    ops = name("ops")
    api(server, ann, "POST", "/api/rooms", {"name": ops})
    status, sent = api(server, ann, "POST", "/api/messages", {"room": ops.upper(), "msg": "deploy at 5", "cid": "d1"})
    assert status == 201 and sent["room"] == ops and sent["to_user"] is None and sent["cid"] == "d1"
    assert api(server, ann, "POST", "/api/messages", {"room": ops, "msg": "again", "cid": "d1"})[0] == 200
    status, answer = api(server, bob, "POST", "/api/messages", {"room": ops, "msg": "me too"})
    assert (status, code(answer)) == (403, "not_member")
    status, body = api(server, bob, "GET", f"/api/messages?room={ops}")
    assert status == 200 and [m["msg"] for m in body["messages"]] == ["deploy at 5"]
    assert api(server, bob, "GET", "/api/messages?with=*")[1]["messages"] == [] or \
        all(m.get("room") is None for m in api(server, bob, "GET", "/api/messages?with=*")[1]["messages"])


def test_refusals_name_what_is_wrong(start_server, name):
    """bad_name, room_exists, too_long, too_many_rooms, room_full, rate_limited; nothing half-made."""
    srv = start_server(CHAT_MAX_ROOMS_PER_USER="2", CHAT_MAX_ROOM_MEMBERS="2", CHAT_ROOMS_PER_HOUR="3")
    ann, bob, cat = name("ann"), name("bob"), name("cat")
    for bad in ("no spaces", "", "..", "x" * 33, 7):
        status, answer = api(srv, ann, "POST", "/api/rooms", {"name": bad})
        assert (status, code(answer)) == (400, "bad_name"), bad
    status, answer = api(srv, ann, "POST", "/api/rooms", {"name": "long", "topic": "t" * 251})
    assert (status, code(answer)) == (400, "too_long")
    assert api(srv, ann, "POST", "/api/rooms", {"name": "Design"})[0] == 201
    assert (api(srv, bob, "POST", "/api/rooms", {"name": "DESIGN", "private": True})[0]) == 409
    assert code(api(srv, bob, "POST", "/api/rooms", {"name": "Desi\u0261n"})[1]) == "bad_name"
    assert code(api(srv, bob, "POST", "/api/rooms", {"name": "Des\u0456gn"})[1]) == "bad_name"
    assert api(srv, ann, "POST", "/api/rooms", {"name": "two"})[0] == 201
    status, answer = api(srv, ann, "POST", "/api/rooms", {"name": "three"})
    assert (status, code(answer)) == (429, "too_many_rooms")
    assert api(srv, ann, "GET", "/api/rooms/three")[0] == 404  # not half-made
    status, answer = api(srv, ann, "POST", "/api/rooms", {"name": "four"})
    assert (status, code(answer)) == (429, "rate_limited")
    assert api(srv, bob, "POST", "/api/rooms/design/join")[0] == 200
    status, answer = api(srv, cat, "POST", "/api/rooms/design/join")
    assert (status, code(answer)) == (409, "room_full")
    assert api(srv, cat, "GET", "/api/rooms/design")[1]["room"]["members"] == 2


def test_members_hear_room_events_on_sockets_and_streams(server, people, name, clients):
    """Member events and messages reach every member's connection, the sender's with its cid;
    an outsider hears nothing; who leaves hears the leave and nothing after."""
    ann, bob, cat = people
    room = name("studio")
    sockets = {user: clients(server.connect(user)) for user in (ann, bob, cat)}
    for client in sockets.values():
        client.sync()
    stream = EventStreamClient(server, f"/events/{bob}", {"Authorization": f"Bearer {server.token(bob)}"})
    stream.until(lambda event: event["event"] == "synced")

    def member(user, joined):
        return lambda frame: frame["type"] == "member" and frame["user"] == user and frame["joined"] is joined

    api(server, ann, "POST", "/api/rooms", {"name": room})
    created = sockets[ann].recv_until(member(ann, True))
    assert created["room"] == room and created["by"] == ann and created["id"] > 0
    api(server, bob, "POST", f"/api/rooms/{room}/join")
    for user in (ann, bob):
        assert sockets[user].recv_until(member(bob, True))["room"] == room
    joined = stream.until(lambda event: event["event"] == "member")
    assert joined["data"]["user"] == bob and int(joined["id"]) == joined["data"]["id"]
    sockets[ann].send(room=room, msg="welcome", cid="w1")
    ack = sockets[ann].recv_until(lambda frame: frame.get("cid") == "w1")
    assert ack["type"] == "message" and ack["room"] == room and ack["to_user"] is None
    assert sockets[bob].recv_until(lambda frame: frame["type"] == "message")["id"] == ack["id"]
    event = stream.until(lambda event: event["event"] == "message")
    assert event["data"]["room"] == room and int(event["id"]) == ack["id"]
    api(server, bob, "POST", f"/api/rooms/{room}/leave")
    left = sockets[bob].recv_until(member(bob, False))
    sockets[ann].send(room=room, msg="bob is gone", cid="w2")
    sockets[ann].recv_until(lambda frame: frame.get("cid") == "w2")
    sockets[bob].assert_silent()
    sockets[cat].assert_silent()
    stream.close()

    again = clients(server.connect(bob, since=created["id"] - 1))
    _, backlog, _ = again.sync()
    assert [frame["id"] for frame in backlog if frame.get("room") == room] == [joined["data"]["id"], left["id"]]


def test_frames_to_rooms_are_checked(server, people, name, clients):
    """unknown_room, not_member, a room and a user at once, an unknown type: error frames, and the socket lives."""
    ann, bob, _ = people
    room = name("quiet")
    api(server, ann, "POST", "/api/rooms", {"name": room})
    client = clients(server.connect(bob))
    client.sync()
    for frame, expected in (({"room": name("nowhere"), "msg": "x", "cid": "a"}, "unknown_room"),
                            ({"room": room, "msg": "x", "cid": "b"}, "not_member"),
                            ({"room": room, "to_user": ann, "msg": "x", "cid": "c"}, "bad_message"),
                            ({"room": "not a name", "msg": "x", "cid": "d"}, "unknown_room"),
                            ({"type": "shout", "msg": "x", "cid": "e"}, "bad_message")):
        client.send(**frame)
        error = client.recv_until(lambda f, cid=frame["cid"]: f.get("cid") == cid)
        assert (error["type"], error["code"]) == ("error", expected), frame
    api(server, bob, "POST", f"/api/rooms/{room}/join")
    client.send(room=room, msg="in now", cid="f")
    assert client.recv_until(lambda f: f.get("cid") == "f")["type"] == "message"
