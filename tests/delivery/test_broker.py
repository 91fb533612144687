"""One behaviour suite for both brokers, through live servers.

"local": one `python wsgi.py` with the in-process broker. "redis": two server
processes (two hosts) on one Redis and one PostgreSQL; user i connects to
process i % 2, so every exchange below crosses processes.
"""

import pytest

from liveserver import EventStreamClient

SECRET = {"CHAT_SECRET_KEY": "a shared secret key for the broker suite"}


@pytest.fixture(params=["local", "redis"])
def hosts(request, start_server):
    """Two servers to connect to: the same one twice, or two processes over Redis."""
    if request.param == "local":
        srv = start_server(**SECRET)
        return [srv, srv]
    shared = {**SECRET, "CHAT_REDIS_URL": request.getfixturevalue("redis_server").url,
              "CHAT_DATABASE_URL": request.getfixturevalue("pg_url")}
    return [start_server(**shared), start_server(**shared)]


def join(hosts, clients, *names):
    """Connect each name to its host (alternating), read to synced; return the clients."""
    joined = []
    for i, user in enumerate(names):
        client = clients(hosts[i % 2].connect(user))
        client.sync()
        joined.append(client)
    return joined


def test_a_group_message_reaches_everyone_once(hosts, clients, name):
    """Everyone on either process gets it; the sender gets the ack and no copy."""
    users = [name("g") for _ in range(4)]
    sender, *others = join(hosts, clients, *users)
    sender.send(type="message", msg="hello everyone", cid="g1")
    ack = sender.recv_type("message")
    assert ack["cid"] == "g1"
    for other in others:
        got = other.recv_type("message")
        assert (got["id"], got["from_user"], got["msg"]) == (ack["id"], users[0], "hello everyone")
    sender.assert_silent()


def test_a_direct_message_reaches_the_pair_and_nobody_else(hosts, clients, name):
    """The recipient and the sender's other tab (on the other process) get it; a third user does not."""
    ann, bob, cat = name("d"), name("d"), name("d")
    ann_a, bob_b, cat_a = join(hosts, clients, ann, bob, cat)
    ann_b = clients(hosts[1].connect(ann))
    ann_b.sync()
    ann_a.send(type="message", to_user=bob, msg="just you", cid="d1")
    message_id = ann_a.recv_type("message")["id"]
    assert bob_b.recv_type("message")["id"] == message_id
    assert ann_b.recv_type("message")["id"] == message_id
    cat_a.assert_silent()


def test_one_senders_messages_arrive_in_order(hosts, clients, name):
    """Twenty quick messages from one user reach the other process in the order sent."""
    sender, receiver = join(hosts, clients, name("o"), name("o"))
    for i in range(20):
        sender.send(type="message", msg=f"n{i}", cid=f"o{i}")
    assert [receiver.recv_type("message")["msg"] for _ in range(20)] == [f"n{i}" for i in range(20)]


def test_presence_is_per_user_across_processes(hosts, clients, name):
    """hello lists users of both processes; a second tab elsewhere says nothing; the last close says offline."""
    ann, bob = name("p"), name("p")
    watcher = clients(hosts[0].connect(ann))
    watcher.sync()
    first = clients(hosts[1].connect(bob))
    assert set(first.sync()[0]["online"]) >= {ann, bob}
    assert watcher.recv() == {"type": "presence", "user": bob, "online": True}
    second = clients(hosts[0].connect(bob))
    second.sync()
    first.close()
    watcher.assert_silent(0.5)
    second.close()
    assert watcher.recv() == {"type": "presence", "user": bob, "online": False}
    status, body, _ = hosts[1].get(f"/api/users?token={hosts[1].token(ann)}")
    assert status == 200 and ann in body["online"] and bob not in body["online"]


def test_an_event_stream_on_the_other_process_gets_messages(hosts, clients, name):
    """An SSE connection is a connection like any other, wherever it is."""
    sender, reader = name("s"), name("s")
    stream = EventStreamClient(hosts[1], f"/events/{reader}?token={hosts[1].token(reader)}")
    try:
        assert stream.until(lambda e: e["event"] == "synced")
        client = clients(hosts[0].connect(sender))
        client.sync()
        client.send(type="message", to_user=reader, msg="over SSE", cid="s1")
        message_id = client.recv_type("message")["id"]
        event = stream.until(lambda e: e["event"] == "message")
        assert (event["id"], event["data"]["msg"]) == (str(message_id), "over SSE")
    finally:
        stream.close()


def test_a_password_change_signs_out_every_process(hosts, clients, name):
    """Claiming a name closes that user's sockets on both processes with 1008."""
    user = name("w")
    on_a, on_b = clients(hosts[0].connect(user)), clients(hosts[1].connect(user))
    on_a.sync()
    on_b.sync()
    token = hosts[0].token(user)
    status, body, _ = hosts[0].request("POST", "/api/password", {"password": "a long enough password"},
                                       {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    for client in (on_a, on_b):
        assert client.close_frame() == (1008, "the password changed: log in again")
