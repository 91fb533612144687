"""Durable messages: restarts, kill -9, visibility, backlog limits, history paging, dedupe."""

import signal
import subprocess
import sqlite3
from itertools import count

import pytest

from chat.delivery.router import PIPELINE
from liveserver import UNLIMITED


_cids = count()


def synced(srv, user, **kwargs):
    """A client of `srv` past its backlog; returns (client, hello, backlog, synced)."""
    client = srv.connect(user, **kwargs)
    hello, backlog, done = client.sync()
    return client, hello, backlog, done


def send_all(client, frames):
    """Send frames (each given a cid when it has none) and return their acknowledgements."""
    frames = [{"cid": f"auto{next(_cids)}", **frame} for frame in frames]
    for frame in frames:
        client.send(**frame)
    return [client.recv_until(lambda f, cid=frame["cid"]: f.get("cid") == cid) for frame in frames]


def api(srv, user, query):
    """GET /api/messages as `user` with a bearer token."""
    return srv.get(f"/api/messages?{query}", headers={"Authorization": f"Bearer {srv.token(user)}"})


def test_acknowledged_messages_survive_a_restart(start_server):
    """Stop the server after sending; start it again: everything acknowledged is there."""
    srv = start_server()
    alice, *_ = synced(srv, "alice")
    synced(srv, "bob")[0].close()
    acks = send_all(alice, [{"msg": f"group {i}"} for i in range(5)] + [{"to_user": "bob", "msg": "direct"}])
    alice.close()
    srv.stop()
    srv.start()
    bob, hello, backlog, _ = synced(srv, "bob")
    assert [m["id"] for m in backlog] == [a["id"] for a in acks]
    assert hello["last_id"] == acks[-1]["id"]
    bob.close()


def test_a_burst_past_the_pipeline_is_stored_in_sending_order(start_server):
    """More frames at once than may wait for the commit: the reader waits for room, and
    every frame is stored once, with ids in the order the frames were sent."""
    srv = start_server(**UNLIMITED)
    bob, *_ = synced(srv, "bob")
    alice, *_ = synced(srv, "alice")
    count = PIPELINE * 3
    acks = send_all(alice, [{"to_user": "bob", "msg": f"n{i}"} for i in range(count)])
    ids = [ack["id"] for ack in acks]
    assert [ack["msg"] for ack in acks] == [f"n{i}" for i in range(count)] and ids == sorted(set(ids))
    assert [bob.recv_until(lambda f: f.get("type") == "message")["id"] for _ in range(count)] == ids


def test_a_recipient_known_only_to_the_database_is_looked_up(start_server):
    """After a restart the server has not read a recipient's name yet: a frame to them
    waits for that read, and is stored with the name's first spelling."""
    srv = start_server()
    synced(srv, "Bobby")[0].close()
    srv.stop()
    srv.start()
    alice, *_ = synced(srv, "alice")
    assert send_all(alice, [{"to_user": "bobby", "msg": "hi"}])[0]["to_user"] == "Bobby"


def test_kill_9_right_after_acknowledgements_loses_nothing(start_server):
    """SIGKILL straight after a burst of acks: every acknowledged id is stored."""
    srv = start_server(**UNLIMITED)
    synced(srv, "bob")[0].close()
    senders = [synced(srv, f"burst{i}")[0] for i in range(4)]
    acked = set()
    for sender in senders:
        frames = [{"msg": f"burst {j}", "to_user": "bob" if j % 2 else None} for j in range(50)]
        acked |= {ack["id"] for ack in send_all(sender, frames)}
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.start()
    bob, _, backlog, done = synced(srv, "bob", since=0)
    assert acked <= {m["id"] for m in backlog}
    assert not done["truncated"]
    bob.close()


def test_an_offline_user_gets_direct_messages_on_next_connection(start_server):
    """A direct message to a known, offline user waits in their backlog."""
    srv = start_server()
    synced(srv, "bob")[0].close()
    alice, *_ = synced(srv, "alice")
    ack = send_all(alice, [{"to_user": "bob", "msg": "while you were out", "cid": "w1"}])[0]
    bob, _, backlog, _ = synced(srv, "bob")
    assert backlog[-1] == {k: v for k, v in ack.items() if k != "cid"}
    alice.close()
    bob.close()


def test_carol_sees_nothing_of_alice_and_bob(start_server):
    """Live, backlog or API: a third user never sees another pair's direct messages."""
    srv = start_server()
    carol, *_ = synced(srv, "carol")
    bob, *_ = synced(srv, "bob")
    alice, *_ = synced(srv, "alice")
    send_all(alice, [{"to_user": "bob", "msg": "secret"}])
    assert bob.recv_type("message")["msg"] == "secret"
    carol.assert_silent()
    _, _, backlog, _ = synced(srv, "carol", since=0)
    assert "secret" not in [m["msg"] for m in backlog]
    for query in ("with=bob", "with=alice", "with=*"):
        status, body, _ = api(srv, "carol", query)
        assert status == 200 and "secret" not in [m["msg"] for m in body["messages"]]
    status, body, _ = api(srv, "bob", "with=alice")
    assert [m["msg"] for m in body["messages"]] == ["secret"]
    for client in (alice, bob, carol):
        client.close()


def test_history_pages_with_before_and_limit(start_server):
    """before/limit walk back through a conversation, oldest first within a page."""
    srv = start_server()
    alice, *_ = synced(srv, "alice")
    ids = [a["id"] for a in send_all(alice, [{"msg": f"m{i}"} for i in range(12)])]
    status, body, _ = api(srv, "alice", "with=*&limit=5")
    assert status == 200 and [m["id"] for m in body["messages"]] == ids[-5:]
    status, body, _ = api(srv, "alice", f"with=*&limit=5&before={ids[-5]}")
    assert [m["id"] for m in body["messages"]] == ids[-10:-5]
    status, body, _ = api(srv, "alice", f"before={ids[2]}")
    assert [m["id"] for m in body["messages"]] == ids[:2]
    alice.close()


@pytest.mark.parametrize("query, status", [
    ("limit=0", 400), ("limit=201", 400), ("limit=x", 400), ("before=-1", 400), ("before=%C2%B2", 400),
    ("with=nobody_here", 404), ("with=bad%20name", 404),
])
def test_history_rejects_bad_queries(server, query, status):
    """Malformed paging and unknown users get JSON errors."""
    got, body, _ = api(server, "pager", query)
    assert got == status and body["error"]["code"]


def test_history_needs_identity(server):
    """No cookie and no token: 401."""
    status, body, _ = server.get("/api/messages")
    assert status == 401 and body["error"]["code"] == "unauthenticated"


def test_cid_dedupe_survives_a_restart(start_server):
    """A resend after a restart returns the stored original, stores nothing new."""
    srv = start_server()
    alice, *_ = synced(srv, "alice")
    first = send_all(alice, [{"msg": "only once", "cid": "dup"}])[0]
    alice.close()
    srv.stop()
    srv.start()
    alice, hello, *_ = synced(srv, "alice")
    again = send_all(alice, [{"msg": "only once", "cid": "dup"}])[0]
    assert again == first and hello["last_id"] == first["id"]
    status, body, _ = api(srv, "alice", "with=*")
    assert [m["msg"] for m in body["messages"]].count("only once") == 1
    alice.close()


def test_since_backlog_is_capped_at_1000_with_truncated(start_server):
    """More than 1,000 missed messages: the newest 1,000 and truncated true."""
    srv = start_server(**UNLIMITED)
    senders = [synced(srv, f"flood{i}")[0] for i in range(4)]
    acks = []
    for sender in senders:
        acks += send_all(sender, [{"msg": f"n{j}"} for j in range(260)])
    ids = sorted(a["id"] for a in acks)
    late, _, backlog, done = synced(srv, "late", since=0)
    assert len(backlog) == 1000 and done["truncated"] is True
    assert [m["id"] for m in backlog] == ids[-1000:]
    _, _, recent, done = synced(srv, "late")
    assert len(recent) == 50 and done["truncated"] is False
    _, _, beyond, done = synced(srv, "late", since=ids[-1] + 10)
    assert beyond == [] and done["last_id"] == ids[-1]
    for client in senders + [late]:
        client.close()


def test_live_messages_during_the_backlog_are_neither_lost_nor_doubled(start_server):
    """Connections opening while messages flow see every message exactly once, in order."""
    srv = start_server(**UNLIMITED)
    sender, *_ = synced(srv, "sender")
    for i in range(200):
        sender.send(msg=f"flow {i}", cid=f"flow{i}")
    readers = []
    for _ in range(5):
        client = srv.connect("reader", since=0)
        readers.append(client)
    acks = [sender.recv_until(lambda f, i=i: f.get("cid") == f"flow{i}")["id"] for i in range(200)]
    for client in readers:
        hello, backlog, _ = client.sync()
        seen = [m["id"] for m in backlog]
        while len(seen) < 200:
            frame = client.recv()
            if frame["type"] == "message":
                seen.append(frame["id"])
        assert seen == acks, (hello["last_id"], [m["id"] for m in backlog][-5:], seen[:30], acks[:30])
        client.assert_silent(0.2)
        client.close()
    sender.close()


def test_a_database_from_a_newer_schema_stops_the_start(start_server, tmp_path):
    """A chat.db migrated by a newer server is refused with a clear message."""
    srv = start_server()
    srv.stop()
    with sqlite3.connect(srv.data_dir / "chat.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError) as info:
        srv.start()
    assert "CHAT_DATABASE_URL" in str(info.value) and "newer" in str(info.value)


def test_a_file_that_is_not_a_database_stops_the_start(start_server, tmp_path):
    """A corrupt database file is refused, naming the setting."""
    data = tmp_path / "bad"
    data.mkdir()
    (data / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RuntimeError) as info:
        start_server(CHAT_DATABASE_URL=f"sqlite:///{data / 'junk.db'}")
    assert "CHAT_DATABASE_URL" in str(info.value)


def test_retention_prunes_old_messages(start_server):
    """With CHAT_RETENTION_DAYS, messages older than that are deleted at start and hourly."""
    srv = start_server()
    alice, *_ = synced(srv, "alice")
    send_all(alice, [{"msg": "ancient"}])
    alice.close()
    srv.stop()
    with sqlite3.connect(srv.data_dir / "chat.db") as conn:
        conn.execute("UPDATE messages SET ts = ts - 3 * 86400")
    srv.env["CHAT_RETENTION_DAYS"] = "2"
    srv.start()
    alice, _, backlog, _ = synced(srv, "alice", since=0)
    assert backlog == []
    send_all(alice, [{"msg": "fresh"}])
    alice.close()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs to fill up (needs root, as in CI here); skipped elsewhere."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_sends_with_an_error_frame(start_server, tiny_disk):
    """When the disk fills, sends get storage_failed; what was acknowledged stays readable."""
    srv = start_server(CHAT_DATA_DIR=str(tiny_disk))
    alice, *_ = synced(srv, "alice")
    acked, failed = [], None
    for i in range(400):
        alice.send(msg=f"{i} " + "€" * 3990, cid=f"fill{i}")
        frame = alice.recv_until(lambda f: f.get("cid") == f"fill{i}")
        if frame["type"] == "error":
            failed = frame
            break
        acked.append(frame["id"])
    assert failed is not None and failed["code"] == "storage_failed", "the disk never filled"
    assert acked
    status, body, _ = api(srv, "alice", f"with=*&limit=200&before={acked[-1] + 1}")
    assert status == 200 and [m["id"] for m in body["messages"]] == acked[-len(body["messages"]):]
    alice.send(msg="x" * 5000)
    assert alice.recv_type("error")["code"] == "too_long"  # the connection lives on
    alice.close()
