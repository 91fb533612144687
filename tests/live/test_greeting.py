"""A greeting of bounded size: past CHAT_PRESENCE_LIMIT, hello and presence keep to one's own
people (direct conversations and rooms), and GET /api/users pages and searches everyone."""

import pytest
import websocket

LIMIT = 3


@pytest.fixture
def server(start_server):
    """A server whose presence limit is small enough for a handful of clients to pass it."""
    return start_server(CHAT_PRESENCE_LIMIT=str(LIMIT))


def api(srv, user, method, path, body=None):
    """A request as `user`; (status, parsed body)."""
    status, answer, _ = srv.request(method, path, body, headers={"Authorization": f"Bearer {srv.token(user)}"})
    return status, answer


def online(srv, clients, *users):
    """Connect and sync each of `users`; their clients."""
    opened = []
    for user in users:
        client = clients(srv.connect(user))
        client.sync()
        opened.append(client)
    return opened


def dm(srv, sender, recipient):
    """`sender` sends `recipient` (made known first) a direct message over HTTP."""
    srv.token(recipient)
    assert api(srv, sender, "POST", "/api/messages", {"to_user": recipient, "msg": "hi"})[0] == 201


def test_within_the_limit_hello_lists_everyone(server, clients, name):
    """At most the limit online: hello lists them all and says nothing of completeness."""
    ann, bob = name("ann"), name("bob")
    online(server, clients, ann)
    client = clients(server.connect(bob))
    hello, _, _ = client.sync()
    assert sorted(hello["online"]) == sorted([ann, bob]) and "online_complete" not in hello


def test_past_the_limit_hello_lists_ones_own_people_online(start_server, clients, name):
    """Past the limit: the user, the online users they share a direct conversation (either
    way) or a room with, and online_complete false; strangers are left out."""
    server = start_server(CHAT_PRESENCE_LIMIT="4")  # room for the user and their three
    me, wrote, written, roomie, offline, *strangers = [name(base) for base in
                                                       ("me", "wrote", "written", "roomie", "off", "s1", "s2")]
    dm(server, me, wrote)
    dm(server, written, me)
    dm(server, me, offline)
    room = name("room")
    assert api(server, roomie, "POST", "/api/rooms", {"name": room})[0] == 201
    assert api(server, me, "POST", f"/api/rooms/{room}/join")[0] == 200
    online(server, clients, wrote, written, roomie, *strangers)
    hello, _, _ = clients(server.connect(me)).sync()
    assert hello["online"][0] == me and sorted(hello["online"][1:]) == sorted([wrote, written, roomie])
    assert hello["online_complete"] is False


def test_past_the_limit_hello_holds_at_most_the_limit(server, clients, name):
    """However many of one's own people are online, hello names at most the limit."""
    me, *friends = [name(base) for base in ("me", "f1", "f2", "f3", "f4")]
    for friend in friends:
        dm(server, friend, me)
    online(server, clients, *friends)
    hello, _, _ = clients(server.connect(me)).sync()
    assert len(hello["online"]) == LIMIT and hello["online"][0] == me
    assert set(hello["online"][1:]) <= set(friends)


def test_past_the_limit_presence_goes_to_ones_own_people_only(server, clients, name):
    """Coming and going past the limit: a direct partner and a roommate hear it, a stranger not."""
    me, partner, roomie, *strangers = [name(base) for base in ("me", "partner", "roomie", "s1", "s2")]
    dm(server, partner, me)
    room = name("room")
    assert api(server, roomie, "POST", "/api/rooms", {"name": room})[0] == 201
    assert api(server, me, "POST", f"/api/rooms/{room}/join")[0] == 200
    heard_by_partner, heard_by_roomie, stranger, _ = online(server, clients, partner, roomie, *strangers)
    for client in (heard_by_partner, heard_by_roomie, stranger):
        client.assert_silent(0.3)  # the pushes of those who came within the limit
    mine = server.connect(me)
    mine.sync()
    for client in (heard_by_partner, heard_by_roomie):
        assert client.recv_type("presence") == {"type": "presence", "user": me, "online": True}
    mine.close()
    for client in (heard_by_partner, heard_by_roomie):
        assert client.recv_type("presence") == {"type": "presence", "user": me, "online": False}
    assert_no_presence_of(stranger, me)


def assert_no_presence_of(client, user, wait=0.5):
    """No presence frame about `user` reaches `client` within `wait` seconds."""
    try:
        while True:
            frame = client.recv(wait)
            assert not (frame["type"] == "presence" and frame["user"] == user), frame
    except websocket.WebSocketTimeoutException:
        pass


def test_a_new_direct_conversation_and_a_join_count_at_once(server, clients, name):
    """Past the limit, a first direct message makes the two each other's people from then on,
    and so does joining a room: the next coming or going reaches them."""
    me, newfriend, joiner, *strangers = [name(base) for base in ("me", "new", "joiner", "s1", "s2", "s3")]
    online(server, clients, *strangers)
    mine, joining = online(server, clients, me, joiner)
    room = name("room")
    assert api(server, me, "POST", "/api/rooms", {"name": room})[0] == 201
    mine.recv_type("member")
    dm(server, me, newfriend)
    mine.recv_type("message")
    friend = server.connect(newfriend)
    hello, _, _ = friend.sync()
    assert me in hello["online"]
    assert mine.recv_type("presence") == {"type": "presence", "user": newfriend, "online": True}
    assert api(server, joiner, "POST", f"/api/rooms/{room}/join")[0] == 200
    mine.recv_type("member")
    joining.close()
    assert mine.recv_type("presence") == {"type": "presence", "user": joiner, "online": False}
    friend.close()
    assert mine.recv_type("presence") == {"type": "presence", "user": newfriend, "online": False}


def test_users_pages_everyone_online_by_name(server, clients, name):
    """limit and after page through everyone online, in name order, with next."""
    users = sorted((name(base) for base in ("pa", "pb", "pc", "pd", "pe")), key=str.casefold)
    online(server, clients, *users)
    seen, after = [], None
    while True:
        query = "?limit=2" + (f"&after={after}" if after else "")
        status, body = api(server, users[0], "GET", f"/api/users{query}")
        assert status == 200 and len(body["online"]) <= 2
        seen += body["online"]
        after = body["next"]
        if after is None:
            break
    assert seen == sorted(seen, key=str.casefold) and set(users) <= set(seen)
    status, body = api(server, users[0], "GET", "/api/users")
    assert status == 200 and body["online"] == seen and "next" not in body


def test_users_q_finds_accounts_by_prefix_online_or_not(server, clients, name):
    """q finds accounts whose name starts so, in any case, each with its online flag; limit bounds it."""
    stem = name("Zq")
    here, gone = f"{stem}a", f"{stem}B"
    online(server, clients, here)
    server.token(gone)  # an account, never connected
    status, body = api(server, here, "GET", f"/api/users?q={stem.upper()}")
    assert status == 200
    assert body == {"users": [{"user": here, "online": True}, {"user": gone, "online": False}], "next": None}
    status, body = api(server, here, "GET", f"/api/users?q={stem}&limit=1")
    assert body == {"users": [{"user": here, "online": True}], "next": here}
    status, body = api(server, here, "GET", f"/api/users?q={stem}&limit=1&after={here}")
    assert body == {"users": [{"user": gone, "online": False}], "next": None}


@pytest.mark.parametrize("query, word", [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                                         ("q=", "q"), ("q=" + "a" * 33, "q"), ("after=", "after")])
def test_users_refuses_bad_parameters(server, query, word):
    """A bad limit, q or after is 400 bad_request naming it."""
    status, body = api(server, "asker", "GET", f"/api/users?{query}")
    assert status == 400 and body["error"]["code"] == "bad_request" and word in body["error"]["detail"]


def test_users_needs_a_caller(server):
    """Without a session or a token: 401."""
    status, body, _ = server.request("GET", "/api/users?q=a")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
