"""Edits and deletes against a live server (contract v2): events with ids to the original's
audience, messages served as they are now, and a deleted text gone from every file."""

import time
import uuid
from pathlib import Path

import psycopg

from liveserver import EventStreamClient, bearer, synced, timeout


def by_cid(cid):
    """Matches the frame that carries `cid`."""
    return lambda frame: frame.get("cid") == cid


def test_an_edit_and_a_delete_reach_the_audience_and_every_read_serves_the_message_now(server, name, clients):
    """The sender's copy carries the cid; the peer gets the events; history, backlog and SSE
    serve the message edited, then deleted; a repeated cid is not applied twice."""
    ann, bob = name("ann"), name("bob")
    ann_tab, bob_tab = synced(server, clients, ann, bob)
    stream = EventStreamClient(server, f"/events/{bob}", bearer(server, bob))
    stream.until(lambda event: event["event"] == "synced")
    ann_tab.send(to_user=bob, msg="helo", cid="m1")
    original = ann_tab.recv_until(by_cid("m1"))
    ann_tab.send(type="edit", id=original["id"], msg="hello", cid="e1")
    edit = ann_tab.recv_until(by_cid("e1"))
    assert {k: edit[k] for k in ("type", "of", "msg", "from_user", "to_user")} == \
        {"type": "edit", "of": original["id"], "msg": "hello", "from_user": ann, "to_user": bob}
    assert edit["id"] > original["id"]
    assert bob_tab.recv_until(lambda f: f["type"] == "edit")["id"] == edit["id"]
    assert int(stream.until(lambda event: event["event"] == "edit")["id"]) == edit["id"]
    ann_tab.send(type="edit", id=original["id"], msg="hello!!", cid="e1")
    assert ann_tab.recv_until(by_cid("e1")) == edit  # not applied twice
    (current,) = server.request("GET", f"/api/messages?with={ann}", headers=bearer(server, bob))[1]["messages"]
    assert current["msg"] == "hello" and current["edited"] == edit["ts"]
    status, deleted, _ = server.request("DELETE", f"/api/messages/{original['id']}", {"cid": "d1"}, bearer(server, ann))
    assert status == 200 and deleted["type"] == "delete" and "msg" not in deleted and deleted["cid"] == "d1"
    assert bob_tab.recv_until(lambda f: f["type"] == "delete")["of"] == original["id"]
    (current,) = server.request("GET", f"/api/messages?with={ann}", headers=bearer(server, bob))[1]["messages"]
    assert current["msg"] == "" and current["deleted"] is True
    _, backlog, _ = clients(server.connect(bob, since=original["id"] - 1)).sync()
    assert [(f["type"], f.get("msg")) for f in backlog] == [("message", ""), ("edit", ""), ("delete", None)]
    stream.close()


def test_only_the_sender_may_change_and_errors_leave_the_socket_open(server, name, clients):
    """forbidden, not_found (someone else's conversation, deleted, missing), bad ids and texts."""
    ann, bob, cat = name("ann"), name("bob"), name("cat")
    ann_tab, bob_tab, cat_tab = synced(server, clients, ann, bob, cat)
    ann_tab.send(to_user=bob, msg="ours", cid="m")
    message = ann_tab.recv_until(by_cid("m"))
    for client, frame, code in ((bob_tab, {"type": "edit", "id": message["id"], "msg": "mine now"}, "forbidden"),
                                (cat_tab, {"type": "delete", "id": message["id"]}, "not_found"),
                                (ann_tab, {"type": "delete", "id": 10**15}, "not_found"),
                                (ann_tab, {"type": "delete", "id": "7"}, "bad_message"),
                                (ann_tab, {"type": "edit", "id": message["id"], "msg": " "}, "bad_message"),
                                (ann_tab, {"type": "edit", "id": message["id"], "msg": "x" * 5000}, "too_long")):
        client.send(cid="c", **frame)
        error = client.recv_until(by_cid("c"))
        assert (error["type"], error["code"]) == ("error", code), frame
    status, answer, _ = server.request("PATCH", f"/api/messages/{message['id']}", {"msg": "x"}, bearer(server, bob))
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert server.request("DELETE", f"/api/messages/{message['id']}", None, bearer(server, ann))[0] == 200
    status, answer, _ = server.request("PATCH", f"/api/messages/{message['id']}", {"msg": "x"}, bearer(server, ann))
    assert (status, answer["error"]["code"]) == (404, "not_found")
    ann_tab.send(msg="still open", cid="k")
    assert ann_tab.recv_until(by_cid("k"))["type"] == "message"


def _files_holding(directory, text):
    """The files under `directory` whose bytes contain `text`."""
    needle = text.encode()
    return [p.name for p in Path(directory).rglob("*") if p.is_file() and needle in p.read_bytes()]


def _wait_until(check, seconds):
    deadline = time.monotonic() + timeout(seconds)
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def test_a_deleted_text_leaves_every_file_of_sqlite(start_server, name, clients):
    """The text and its edit are in the database's files before the delete, in none after it
    (no row, no WAL frame, no free page), well within the contract's 60 s."""
    srv = start_server()
    ann = name("ann")
    (client,) = synced(srv, clients, ann)
    first, second = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    client.send(msg=first, cid="m")
    message = client.recv_until(by_cid("m"))
    client.send(type="edit", id=message["id"], msg=second, cid="e")
    client.recv_until(by_cid("e"))
    assert _files_holding(srv.data_dir, first) and _files_holding(srv.data_dir, second)
    client.send(type="delete", id=message["id"], cid="d")
    client.recv_until(by_cid("d"))
    _wait_until(lambda: not _files_holding(srv.data_dir, first) and not _files_holding(srv.data_dir, second), 10)


def test_a_deleted_text_leaves_postgresql(start_server, name, clients, postgres, pg_url):
    """No row holds the text once the delete is acknowledged, and after the VACUUM the server
    runs, no page of the table's files does."""
    srv = start_server(CHAT_DATABASE_URL=pg_url)
    ann = name("ann")
    (client,) = synced(srv, clients, ann)
    secret = f"secret-{uuid.uuid4().hex}"
    client.send(msg=secret, cid="m")
    message = client.recv_until(by_cid("m"))
    client.send(type="delete", id=message["id"], cid="d")
    client.recv_until(by_cid("d"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE msg LIKE %s", (f"%{secret}%",)).fetchone()[0] == 0
        conn.execute("CHECKPOINT")
        table = postgres.dir / "cluster" / conn.execute("SELECT pg_relation_filepath('messages')").fetchone()[0]

    def gone():
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            path = postgres.dir / "cluster" / conn.execute("SELECT pg_relation_filepath('messages')").fetchone()[0]
        return secret.encode() not in path.read_bytes()
    assert table.exists()
    _wait_until(gone, 20)
