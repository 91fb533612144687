"""The chat protocol over a live server: frames, errors, names, tabs and presence."""

import socket
import time

import pytest


@pytest.fixture
def connect(server, clients):
    """Connect `name` to the shared server and read up to `synced`."""
    def open_client(user, **kwargs):
        client = clients(server.connect(user, **kwargs))
        client.greeting = client.sync()
        return client
    return open_client


def test_hello_names_the_user_and_who_is_online(connect, name):
    """hello is first, names the user, lists them online, and carries last_id."""
    alice = name("alice")
    hello, _, synced = connect(alice).greeting
    assert hello["user"] == alice
    assert alice in hello["online"]
    assert isinstance(hello["last_id"], int)
    assert synced["truncated"] is False


def test_group_message_reaches_everyone_and_acknowledges_with_cid(connect, name):
    """A group message reaches every user; the sender's copy carries the cid."""
    alice, bob = connect(name("alice")), connect(name("bob"))
    alice.send(msg="hello all", cid="c1")
    ack = alice.recv_type("message")
    got = bob.recv_type("message")
    assert ack["cid"] == "c1" and "cid" not in got
    assert ack["id"] == got["id"] and got["to_user"] is None and got["msg"] == "hello all"
    assert got["from_user"] == alice.greeting[0]["user"]
    assert got["ts"].endswith("Z") and len(got["ts"]) == 24


@pytest.mark.parametrize("to_user_field", [None, ""])
def test_null_or_empty_to_user_is_group(connect, name, to_user_field):
    """to_user null or "" sends to the group."""
    alice, bob = connect(name("alice")), connect(name("bob"))
    alice.send(msg="hi", to_user=to_user_field)
    assert bob.recv_type("message")["to_user"] is None


def test_direct_message_reaches_every_tab_of_both_and_nobody_else(connect, name):
    """A direct message goes to all of the recipient's and sender's connections only."""
    a, b, c = name("alice"), name("bob"), name("carol")
    alice1, alice2 = connect(a), connect(a)
    bob1, bob2 = connect(b), connect(b)
    carol = connect(c)
    alice1.send(to_user=b, msg="psst", cid="d1")
    ack = alice1.recv_type("message")
    assert ack["cid"] == "d1" and ack["to_user"] == b
    for tab in (alice2, bob1, bob2):
        frame = tab.recv_type("message")
        assert (frame["id"], frame["msg"], frame["from_user"]) == (ack["id"], "psst", a)
        assert "cid" not in frame
    carol.assert_silent()
    alice1.assert_silent(0.1)


@pytest.mark.parametrize("raw, code", [
    ("{not json", "bad_json"),
    ("", "bad_json"),
    ('"just a string"', "bad_message"),
    ("[1, 2]", "bad_message"),
    ('{"msg": ""}', "bad_message"),
    ('{"msg": 5}', "bad_message"),
    ('{}', "bad_message"),
    ('{"msg": "hi", "to_user": 7}', "bad_message"),
    ('{"msg": "hi", "cid": 7}', "bad_message"),
    ('{"msg": "hi", "cid": "' + "x" * 65 + '"}', "bad_message"),
    ('{"msg": "' + "x" * 4001 + '"}', "too_long"),
    ('{"msg": "hi", "to_user": "nobody_ever_here"}', "unknown_user"),
    ('{"msg": "hi", "to_user": "bad name!"}', "unknown_user"),
])
def test_bad_frames_get_an_error_and_the_connection_lives(connect, name, raw, code):
    """Each refused frame gets its error code; nothing is delivered; the socket stays usable."""
    alice, bob = connect(name("alice")), connect(name("bob"))
    alice.ws.send(raw)
    error = alice.recv_type("error")
    assert error["code"] == code and error["detail"]
    bob.assert_silent()
    alice.send(msg="still here")
    assert alice.recv_type("message")["msg"] == "still here"


def test_error_frame_carries_the_cid(connect, name):
    """A refused frame with a cid is answered with that cid."""
    alice = connect(name("alice"))
    alice.send(msg="x" * 4001, cid="long1")
    error = alice.recv_type("error")
    assert (error["code"], error["cid"]) == ("too_long", "long1")


def test_exactly_4000_characters_are_accepted(connect, name):
    """msg limits count code points: 4,000 emoji pass."""
    alice = connect(name("alice"))
    alice.send(msg="😀" * 4000)
    assert len(alice.recv_type("message")["msg"]) == 4000


def test_cid_resend_is_acknowledged_once_and_not_delivered_twice(connect, name):
    """A resend with a stored cid returns the original acknowledgement only."""
    alice, bob = connect(name("alice")), connect(name("bob"))
    alice.send(msg="once", cid="same")
    first = alice.recv_type("message")
    bob.recv_type("message")
    alice.send(msg="once", cid="same")
    again = alice.recv_type("message")
    assert again == first
    bob.assert_silent()


@pytest.mark.parametrize("bad", ["", "a" * 33, "has space", "semi;colon", "slash%2F", "emoji😀"])
def test_bad_usernames_are_refused_at_the_handshake(server, bad):
    """Names outside 1-32 letters, digits, _ - . get HTTP 400 before any frame."""
    import websocket
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        server.connect(bad, token=False)
    assert info.value.status_code in (400, 404)


def test_names_are_case_insensitive_and_keep_the_first_spelling(connect, name):
    """Alice and ALICE are one user, shown as first spelled."""
    spelled = name("MiXeD")
    first = connect(spelled)
    other = connect(spelled.lower())
    assert other.greeting[0]["user"] == spelled
    first.send(to_user=spelled.upper(), msg="to myself")
    assert other.recv_type("message")["to_user"] == spelled


def test_unicode_names_are_normalised_to_nfc(connect, name):
    """A decomposed é and a composed é name the same user."""
    base = name("zoe")
    composed, decomposed = base + "\u00e9", base + "e\u0301"
    one = connect(composed)
    two = connect(decomposed)
    assert two.greeting[0]["user"] == composed
    one.send(to_user=decomposed, msg="même")
    assert two.recv_type("message")["msg"] == "même"


def test_presence_follows_first_and_last_connection(connect, name):
    """Others see online at a user's first connection and offline at the last only."""
    watcher = connect(name("watch"))
    b = name("bob")
    tab1 = connect(b)
    assert watcher.recv() == {"type": "presence", "user": b, "online": True}
    tab2 = connect(b)
    tab1.close()
    watcher.assert_silent(0.3)
    tab2.close()
    assert watcher.recv() == {"type": "presence", "user": b, "online": False}


def test_a_client_that_vanishes_without_close_goes_offline(connect, name):
    """A peer whose TCP connection drops without a close frame leaves at once."""
    watcher = connect(name("watch"))
    b = name("ghost")
    ghost = connect(b)
    watcher.recv_type("presence")
    ghost.ws.sock.shutdown(socket.SHUT_RDWR)
    ghost.ws.sock.close()
    assert watcher.recv(wait=3) == {"type": "presence", "user": b, "online": False}


def test_backlog_without_since_sends_recent_visible_messages(connect, name):
    """A new connection gets the recent group messages and its own direct ones."""
    a, b = name("alice"), name("bob")
    alice = connect(a)
    connect(b)
    alice.send(msg="for all", cid="g")
    alice.send(to_user=b, msg="for bob", cid="d")
    alice.recv_type("message")
    alice.recv_type("message")
    _, backlog, synced = connect(b).greeting
    texts = [m["msg"] for m in backlog]
    assert texts[-2:] == ["for all", "for bob"]
    assert synced["last_id"] >= backlog[-1]["id"]
    _, carols, _ = connect(name("carol")).greeting
    assert "for bob" not in [m["msg"] for m in carols]


def test_since_resumes_after_the_given_id(connect, name):
    """since=N sends exactly the visible messages with id > N, in order."""
    alice = connect(name("alice"))
    ids = []
    for text in ("one", "two", "three"):
        alice.send(msg=text)
        ids.append(alice.recv_type("message")["id"])
    _, backlog, synced = connect(name("late"), since=ids[0]).greeting
    assert [m["id"] for m in backlog if m["id"] in ids] == ids[1:]
    assert [m["id"] for m in backlog] == sorted(m["id"] for m in backlog)
    _, beyond, _ = connect(name("late"), since=ids[-1] + 1000).greeting
    assert beyond == []


def test_bad_since_is_refused(server):
    """since must be a whole number."""
    import websocket
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        server.connect("alice", since="x1")
    assert info.value.status_code == 400


def test_binary_frames_close_with_1003(connect, name):
    """The chat socket speaks text; a binary frame closes it with 1003."""
    alice = connect(name("alice"))
    alice.ws.send_binary(b"\x00\x01")
    assert alice.close_frame()[0] == 1003


def test_concurrent_senders_never_interleave_frames(connect, name):
    """Many greenlets writing to one socket at once still yield whole frames."""
    readers = [connect(name("r")) for _ in range(2)]
    senders = [connect(name("s")) for _ in range(4)]
    for sender in senders:
        for i in range(40):  # the default burst
            sender.send(msg=f"{i}:" + "x" * 500)
    for reader in readers:
        seen = 0
        deadline = time.monotonic() + 10
        while seen < 160 and time.monotonic() < deadline:
            frame = reader.recv()
            if frame["type"] == "message" and frame["msg"].endswith("x" * 500):
                seen += 1
        assert seen == 160
