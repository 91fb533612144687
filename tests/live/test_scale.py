"""Several gunicorn workers and hosts over real Redis and PostgreSQL servers, and their faults."""

import json
import os
import re
import signal
import threading
import time

import pytest
import websocket

from liveserver import UNLIMITED, EventStreamClient, holder_of, timeout, workers_of

SECRET = {"CHAT_SECRET_KEY": "a shared secret key for the scale tests"}


@pytest.fixture
def scaled(start_server, redis_server, pg_url):
    """Start servers on this test's Redis and PostgreSQL: gunicorn with N workers, or `python wsgi.py`."""
    def start(workers=None, **env):
        shared = {**SECRET, **UNLIMITED, "CHAT_REDIS_URL": redis_server.url, "CHAT_DATABASE_URL": pg_url, **env}
        if workers:
            return start_server(gunicorn=True, CHAT_WORKERS=str(workers), **shared)
        return start_server(**shared)
    return start


def wait_for(check, seconds, what):
    """Poll `check()` until it is true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + timeout(seconds)
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.05)


class NotAcknowledged(AssertionError):
    """Raised when a message is not acknowledged in time."""


class ClosedByServer(Exception):
    """Raised when the server's close frame (or another non-text frame) arrives."""


def _check(deadline, cid):
    if time.monotonic() > deadline:
        raise NotAcknowledged(f"{cid} was not acknowledged in time")


class Resilient:
    """A user who reconnects with `since` after any failure and resends what was not acknowledged.

    Records every message frame it receives, to check for loss and duplicates.
    """

    def __init__(self, srv, user, room=None):
        self.srv, self.user = srv, user
        self.room = room  # where send_all sends: the group when None
        self.seen = []  # ids in arrival order, backlogs included
        self.reconnects = 0
        self.client = None
        self.stop = threading.Event()

    def _ensure(self):
        if self.client is None:
            last = max(self.seen, default=0)
            self.client = self.srv.connect(self.user, since=last)
            _, backlog, _ = self.client.sync()
            self.seen += [frame["id"] for frame in backlog if frame["type"] == "message"]

    def _drop(self):
        if self.client is not None:
            self.client.close()
        self.client = None
        self.reconnects += 1
        time.sleep(0.1)

    def _read_one(self, wait):
        self.client.ws.settimeout(timeout(wait))
        opcode, data = self.client.ws.recv_data()
        if opcode != websocket.ABNF.OPCODE_TEXT:
            raise ClosedByServer(opcode)
        frame = json.loads(data)
        if frame["type"] == "message":
            self.seen.append(frame["id"])
        return frame

    def send_all(self, count, pause=0.01, patience=60):
        """Send `count` messages (to the group, or to `room`), each until acknowledged; return
        the acknowledged ids.

        A message not acknowledged within `patience` seconds, reconnections included,
        raises NotAcknowledged: a server that never answers fails the test, never hangs it.
        """
        acked = []
        for i in range(count):
            cid = f"{self.user}-{i}"
            deadline = time.monotonic() + timeout(patience)
            while True:
                try:
                    self._ensure()
                    where = {"room": self.room} if self.room else {}
                    self.client.send(type="message", msg=f"{self.user} says {i}", cid=cid, **where)
                    while (frame := self._read_one(5)).get("cid") != cid:
                        _check(deadline, cid)
                    acked.append(frame["id"])
                    break
                except (OSError, websocket.WebSocketException, ClosedByServer):
                    _check(deadline, cid)
                    self._drop()
            time.sleep(pause)
        return acked

    def listen(self):
        """Read until stopped (run on a thread)."""
        while not self.stop.is_set():
            try:
                self._ensure()
                self._read_one(0.2)
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException, AssertionError, ClosedByServer):
                self._drop()
        if self.client is not None:
            self.client.close()


def group_messages(srv, user):
    """Every group message in the store, as (id, from_user, msg)."""
    status, body, _ = srv.get(f"/api/messages?limit=200&token={srv.token(user)}")
    assert status == 200, body
    return [(m["id"], m["from_user"], m["msg"]) for m in body["messages"]]


def metric(text, name, **labels):
    """The sum of a metric's samples with these labels in a Prometheus text answer."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_workers_share_users_and_metrics(scaled, clients, name):
    """Two workers: sockets and an event stream all get a group message; /metrics sums both workers."""
    srv = scaled(workers=2)
    users = [name("m") for _ in range(5)]
    sockets = [clients(srv.connect(user)) for user in users]
    for client in sockets:
        client.sync()
    reader = name("m")
    stream = EventStreamClient(srv, f"/events/{reader}?token={srv.token(reader)}")
    try:
        stream.until(lambda e: e["event"] == "synced")
        for i in range(3):
            sockets[0].send(type="message", msg=f"to all {i}", cid=f"m{i}")
        for client in sockets[1:]:
            assert [client.recv_type("message")["msg"] for _ in range(3)] == [f"to all {i}" for i in range(3)]
        assert [stream.until(lambda e: e["event"] == "message")["data"]["msg"] for _ in range(3)] == \
            [f"to all {i}" for i in range(3)]
        for _ in range(6):  # whichever worker answers, the sums are the host's
            status, text, _ = srv.get("/metrics")
            assert status == 200, srv.log()[-3000:]
            assert metric(text, "chat_connections") == 6, text
            assert metric(text, "chat_connections", transport="sse") == 1
            assert metric(text, "chat_messages_in_total", kind="group") == 3
            assert metric(text, "chat_deliveries_total") == 3 * 6
            assert 'chat_messages_in_total{kind="direct"} 0.0' in text  # known series start at zero
    finally:
        stream.close()
    assert len(workers_of(srv)) == 2


def test_sigterm_closes_sockets_with_1001_and_exits_in_time(scaled, clients, name):
    """Every socket of every worker hears 1001; gunicorn is gone within its graceful timeout."""
    srv = scaled(workers=2)
    sockets = [clients(srv.connect(name("t"))) for _ in range(6)]
    for client in sockets:
        client.sync()
    started = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    for client in sockets:
        assert client.close_frame() == (1001, "server restart")
        client.close()  # answer the close, as browsers do
    srv.proc.wait(timeout(12))
    assert time.monotonic() - started < timeout(10), "longer than gunicorn's graceful_timeout"


def test_rolling_restart_loses_nothing(scaled, clients, name):
    """HUP: old workers close with 1001; a message stored meanwhile reaches the reconnected client once."""
    srv = scaled(workers=2)
    alice, bob = name("h"), name("h")
    watcher = clients(srv.connect(bob))
    _, _, synced = watcher.sync()
    old_workers = set(workers_of(srv))
    srv.proc.send_signal(signal.SIGHUP)
    assert watcher.close_frame() == (1001, "server restart")
    watcher.close()
    status, body, _ = srv.request("POST", "/api/messages", {"msg": "during the restart", "cid": "h1"},
                                  {"Authorization": f"Bearer {srv.token(alice)}"})
    assert status == 201, body
    wait_for(lambda: old_workers.isdisjoint(workers_of(srv)) and len(workers_of(srv)) == 2, 15, "new workers")
    again = clients(srv.connect(bob, since=synced["last_id"]))
    _, backlog, _ = again.sync()
    assert [m["msg"] for m in backlog] == ["during the restart"]
    again.assert_silent(1.5)  # not a second time from the log's tail


def test_kill_9_of_a_worker_loses_and_duplicates_nothing(scaled, name):
    """Traffic flows while one worker is SIGKILLed: every acknowledged message is stored once and
    reaches every listener exactly once, across reconnections."""
    srv = scaled(workers=2)
    senders = [Resilient(srv, name("k")) for _ in range(4)]
    listeners = [Resilient(srv, name("k")) for _ in range(3)]
    threads = [threading.Thread(target=l.listen) for l in listeners]
    for thread in threads:
        thread.start()
    acked = send_through_a_kill(srv, senders, 40)
    for sender in senders:
        sender.client.close()
    stored = group_messages(srv, senders[0].user)
    stored_ids = sorted(m[0] for m in stored)
    assert sorted(i for ids in acked.values() for i in ids) == stored_ids  # acked = stored, once each
    assert len(stored) == 4 * 40 and len({(m[1], m[2]) for m in stored}) == 4 * 40
    wait_for(lambda: all(set(stored_ids) <= set(l.seen) for l in listeners), 20, "complete delivery")
    for listener in listeners:
        listener.stop.set()
    for thread in threads:
        thread.join(timeout(10))
    assert_each_heard_once(listeners, stored_ids)
    assert sum(s.reconnects for s in senders + listeners) > 0, "the kill reached nobody"


def send_through_a_kill(srv, senders, count):
    """Each of `senders` sends `count` messages while the worker holding the first one's
    socket is SIGKILLed; returns {sender: the ids acknowledged to it}."""
    acked = {}
    send_threads = [threading.Thread(target=lambda s=s: acked.__setitem__(s.user, s.send_all(count, pause=0.05)))
                    for s in senders]
    for thread in send_threads:
        thread.start()
    time.sleep(0.7)
    assert all(thread.is_alive() for thread in send_threads), "traffic ended before the kill"
    # The worker a sender is on: the kernel may hand every connection to the same worker.
    os.kill(holder_of(senders[0].client.ws.sock, workers_of(srv)), signal.SIGKILL)
    for thread in send_threads:
        thread.join(timeout(60))
    assert len(acked) == len(senders), "a sender did not finish"
    return acked


def assert_each_heard_once(listeners, stored_ids):
    """Every listener saw exactly the stored ids, each once."""
    for listener in listeners:
        extra = sorted(i for i in set(listener.seen) if listener.seen.count(i) > 1)
        assert sorted(listener.seen) == sorted(stored_ids), \
            f"duplicated {extra}, lost {set(stored_ids) - set(listener.seen)}"


def test_redis_restart_resumes_routing_within_5_seconds(scaled, redis_server, clients, name):
    """Redis down: /healthz says 503 and messages still reach the other host from the store;
    Redis back: sockets resume with `since` and live routing works again within 5 s."""
    hosts = [scaled(), scaled()]
    alice, bob = name("r"), name("r")
    sender = hosts[0]
    bearer = {"Authorization": f"Bearer {sender.token(alice)}"}
    listener = Resilient(hosts[1], bob)
    thread = threading.Thread(target=listener.listen)
    thread.start()
    try:
        wait_for(lambda: listener.client is not None, 5, "listener")
        redis_server.stop()
        wait_for(lambda: hosts[1].get("/healthz")[0] == 503, 5, "503 from /healthz")
        assert hosts[1].get("/healthz")[1] == {"status": "unavailable", "failing": ["broker"]}
        status, body, _ = sender.request("POST", "/api/messages", {"msg": "while Redis is down"}, bearer)
        assert status == 201, body
        wait_for(lambda: body["id"] in listener.seen, 5, "delivery from the store")
        redis_server.start()
        restarted = time.monotonic()
        wait_for(lambda: hosts[0].get("/healthz")[0] == 200 and hosts[1].get("/healthz")[0] == 200, 5,
                 "health")
        status, body, _ = sender.request("POST", "/api/messages", {"msg": "Redis is back"}, bearer)
        wait_for(lambda: body["id"] in listener.seen, 5, "routing after the restart")
        assert time.monotonic() - restarted < timeout(5)
    finally:
        listener.stop.set()
        thread.join(timeout(10))
    assert len(listener.seen) == len(set(listener.seen)) == 2


def test_a_dead_hosts_users_go_offline_within_30_seconds(scaled, clients, name):
    """SIGKILL one of two hosts: its users are announced offline to the other host's users."""
    hosts = [scaled(), scaled()]
    alice, bob = name("x"), name("x")
    watcher = clients(hosts[0].connect(alice))
    watcher.sync()
    doomed = clients(hosts[1].connect(bob))
    doomed.sync()
    assert watcher.recv() == {"type": "presence", "user": bob, "online": True}
    hosts[1].proc.kill()
    started = time.monotonic()
    assert watcher.recv(wait=30) == {"type": "presence", "user": bob, "online": False}
    assert time.monotonic() - started < timeout(30)
    status, body, _ = hosts[0].get(f"/api/users?token={hosts[0].token(alice)}")
    assert status == 200 and body["online"] == [alice]


def test_the_open_files_limit_is_raised(scaled):
    """Each worker may open as many files as the system allows (soft limit = hard limit)."""
    srv = scaled(workers=2)
    for pid in [srv.proc.pid] + workers_of(srv):
        limits = open(f"/proc/{pid}/limits", encoding="ascii").read()
        soft, hard = re.search(r"Max open files\s+(\S+)\s+(\S+)", limits).groups()
        assert soft == hard, limits


def test_a_lost_database_gives_503_and_storage_failed(start_server, postgres, pg_url, clients, name):
    """PostgreSQL stops: /healthz names the store, a message is refused with storage_failed (not lost
    silently), and the socket stays open."""
    srv = start_server(**SECRET, CHAT_DATABASE_URL=pg_url)
    user = name("l")
    client = clients(srv.connect(user))
    client.sync()
    postgres.stop()
    status, body, _ = srv.get("/healthz")
    assert (status, body) == (503, {"status": "unavailable", "failing": ["store"]})
    client.send(type="message", msg="nowhere to go", cid="l1")
    assert client.recv_type("error") == {"type": "error", "code": "storage_failed", "cid": "l1",
                                         "detail": "the message could not be stored; send it again"}
    client.send(type="message", msg="still here", cid="l2")
    assert client.recv_type("error")["cid"] == "l2"


def test_a_sender_gives_up_on_a_server_that_never_acknowledges(start_server):
    """The resilient sender's wait is bounded: against a stopped server it raises, never hangs."""
    srv = start_server()
    sender = Resilient(srv, "patient")
    outcome = []
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        thread = threading.Thread(target=lambda: outcome.append(_raised(sender.send_all, 1, patience=2)),
                                  daemon=True)
        thread.start()
        thread.join(timeout(30))
        assert not thread.is_alive(), "send_all is still waiting"
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    assert isinstance(outcome[0], NotAcknowledged)


def _raised(function, *args, **options):
    try:
        function(*args, **options)
    except Exception as exc:  # pylint: disable=broad-except
        return exc
    return None


# -- rooms across workers and hosts ------------------------------------------


def api(place, user, method, path, body=None):
    """A request as `user` to the server of `place`; (status, parsed body)."""
    srv = place[0]
    status, answer, _ = srv.request(method, path, body, {"Authorization": f"Bearer {srv.token(user)}"})
    return status, answer


def two_places(scaled, spread):
    """Two places a socket may be on, each (server, worker pid or None): the two workers of
    one gunicorn on Redis, or two hosts on one PostgreSQL."""
    if spread == "hosts":
        return [(scaled(), None), (scaled(), None)]
    srv = scaled(workers=2)
    wait_for(lambda: len(workers_of(srv)) == 2, 10, "second worker")
    return [(srv, pid) for pid in sorted(workers_of(srv))]


def reach(place, user, seconds=15):
    """A Client of `user` at `place`, not yet read from: on a gunicorn, connects again until
    the kernel hands the connection to that worker (one still booting takes none)."""
    srv, pid = place
    deadline = time.monotonic() + timeout(seconds)
    while True:
        client = srv.connect(user)
        if pid is None or holder_of(client.ws.sock, workers_of(srv)) == pid:
            return client
        client.close()
        assert time.monotonic() < deadline, f"no connection reached worker {pid} within {seconds} s"


def connect_at(place, user):
    """A Client of `user` at `place` (see reach), read up to synced."""
    client = reach(place, user)
    client.sync()
    return client


def of_room(room, kind=None):
    """A recv_until match for the frames of `room` (of one type when `kind` is given)."""
    return lambda frame: frame.get("room") == room and kind in (None, frame["type"])


SPREADS = pytest.mark.parametrize("spread", ["workers", "hosts"])


@SPREADS
def test_a_room_message_reaches_members_on_the_other_worker(scaled, clients, name, spread):
    """Sent on one worker (host), a room message reaches a member on the other, in order; the
    sender's copy is the acknowledgement with the cid; an outsider there hears nothing."""
    here, there = two_places(scaled, spread)
    ann, bob, cat, room = name("ra"), name("rb"), name("rc"), name("room")
    assert api(here, ann, "POST", "/api/rooms", {"name": room})[0] == 201
    assert api(there, bob, "POST", f"/api/rooms/{room}/join")[0] == 200
    sender = clients(connect_at(here, ann))
    member, outsider = clients(connect_at(there, bob)), clients(connect_at(there, cat))
    for i in range(3):
        sender.send(room=room, msg=f"hello {i}", cid=f"c{i}")
    acks = [sender.recv_until(lambda frame, cid=f"c{i}": frame.get("cid") == cid) for i in range(3)]
    for i, ack in enumerate(acks):
        assert (ack["type"], ack["room"], ack["to_user"], ack["from_user"], ack["msg"]) == \
            ("message", room, None, ann, f"hello {i}"), ack
    got = [member.recv_until(of_room(room, "message")) for _ in range(3)]
    assert [frame["id"] for frame in got] == [ack["id"] for ack in acks]
    assert all("cid" not in frame for frame in got), got  # the cid is the sender's alone
    outsider.assert_silent(0.5)


@SPREADS
def test_a_join_is_known_everywhere_before_the_next_message(scaled, clients, name, spread):
    """Joined over HTTP on one worker (host), a newcomer's sockets on both get their join event,
    then a message sent on the other right after the join's answer."""
    here, there = two_places(scaled, spread)
    ann, room = name("ja"), name("room")
    assert api(here, ann, "POST", "/api/rooms", {"name": room})[0] == 201
    sender = clients(connect_at(here, ann))
    for i in range(4):  # a few times: a missed join shows as a race, not always
        newcomer = name("jn")
        sockets = [clients(connect_at(place, newcomer)) for place in (here, there)]
        assert api(there, newcomer, "POST", f"/api/rooms/{room}/join")[0] == 200
        sender.send(room=room, msg=f"welcome {i}", cid=f"j{i}")
        ack = sender.recv_until(lambda frame, cid=f"j{i}": frame.get("cid") == cid)
        for client in sockets:
            joined = client.recv_until(of_room(room))
            assert (joined["type"], joined["user"], joined["joined"]) == ("member", newcomer, True), joined
            assert client.recv_until(of_room(room))["id"] == ack["id"]


@SPREADS
def test_a_leave_stops_deliveries_on_the_other_worker(scaled, clients, name, spread):
    """Left over HTTP on one worker (host): the leaver's sockets on both get their leave event,
    then nothing of the room, while a member on the other still gets what is sent there."""
    here, there = two_places(scaled, spread)
    ann, bob, cat, room = name("la"), name("lb"), name("lc"), name("room")
    assert api(here, ann, "POST", "/api/rooms", {"name": room})[0] == 201
    for user in (bob, cat):
        assert api(there, user, "POST", f"/api/rooms/{room}/join")[0] == 200
    sender, witness = clients(connect_at(here, ann)), clients(connect_at(here, cat))
    leaver = [clients(connect_at(place, bob)) for place in (here, there)]
    assert api(there, bob, "POST", f"/api/rooms/{room}/leave")[0] == 200
    for i in range(3):
        sender.send(room=room, msg=f"after the leave {i}", cid=f"l{i}")
    acks = [sender.recv_until(lambda frame, cid=f"l{i}": frame.get("cid") == cid)["id"] for i in range(3)]
    assert [witness.recv_until(of_room(room, "message"))["id"] for _ in range(3)] == acks
    for client in leaver:
        left = client.recv_until(of_room(room))
        assert (left["type"], left["user"], left["joined"]) == ("member", bob, False), left
        client.assert_silent(0.5)


def room_messages(place, user, room):
    """The ids of every message of `room` that GET /api/messages?room= serves."""
    status, body = api(place, user, "GET", f"/api/messages?room={room}&limit=200")
    assert status == 200, body
    return [m["id"] for m in body["messages"]]


def test_kill_9_of_a_worker_loses_no_acknowledged_room_message(scaled, name):
    """Room traffic flows while one worker is SIGKILLed: every acknowledged room message is
    stored once, served by ?room=, and reaches every member exactly once across reconnections."""
    srv = scaled(workers=2)
    place, room = (srv, None), name("room")
    senders = [Resilient(srv, name("rk"), room) for _ in range(3)]
    listeners = [Resilient(srv, name("rk")) for _ in range(3)]
    assert api(place, senders[0].user, "POST", "/api/rooms", {"name": room})[0] == 201
    for member in senders[1:] + listeners:
        assert api(place, member.user, "POST", f"/api/rooms/{room}/join")[0] == 200
    threads = [threading.Thread(target=l.listen) for l in listeners]
    for thread in threads:
        thread.start()
    try:
        acked = send_through_a_kill(srv, senders, 30)
        stored = room_messages(place, listeners[0].user, room)
        assert sorted(i for ids in acked.values() for i in ids) == sorted(stored)  # acked = stored, once each
        assert len(stored) == 3 * 30
        wait_for(lambda: all(set(stored) <= set(l.seen) for l in listeners), 20, "complete delivery")
    finally:
        for listener in listeners:
            listener.stop.set()
        for thread in threads:
            thread.join(timeout(10))
        for sender in senders:
            if sender.client is not None:
                sender.client.close()
    assert_each_heard_once(listeners, stored)
    assert sum(s.reconnects for s in senders + listeners) > 0, "the kill reached nobody"


@SPREADS
def test_typing_crosses_to_the_other_worker(scaled, clients, name, spread):
    """A typing notice sent on one worker (host) reaches the peer's and the room's members'
    sockets on the other; the sender's own sockets there hear nothing."""
    here, there = two_places(scaled, spread)
    ann, bob, room = name("ta"), name("tb"), name("room")
    assert api(here, ann, "POST", "/api/rooms", {"name": room})[0] == 201
    assert api(there, bob, "POST", f"/api/rooms/{room}/join")[0] == 200
    typist, peer, own_tab = clients(connect_at(here, ann)), clients(connect_at(there, bob)), \
        clients(connect_at(there, ann))
    # Typing is relayed to the members the other side has read of the log so far: a room
    # message after the join, once delivered there, says it has read the join.
    typist.send(room=room, msg="hello", cid="h")
    for sock in (peer, own_tab):
        sock.recv_until(of_room(room, "message"))
    typist.send(type="typing", **{"with": bob})
    assert peer.recv_until(lambda frame: frame["type"] == "typing") == {"type": "typing", "user": ann, "with": bob}
    typist.send(type="typing", room=room)
    assert peer.recv_until(lambda frame: frame["type"] == "typing") == {"type": "typing", "user": ann, "room": room}
    own_tab.assert_silent(0.5)


@SPREADS
def test_edits_and_deletes_cross_to_the_other_worker(scaled, clients, name, spread):
    """An edit and a delete made on one worker (host) reach the recipient on the other, and
    every place serves the message in its current state."""
    here, there = two_places(scaled, spread)
    ann, bob = name("ea"), name("eb")
    sender, recipient = clients(connect_at(here, ann)), clients(connect_at(there, bob))
    sender.send(to_user=bob, msg="frist", cid="m")
    original = sender.recv_until(lambda frame: frame.get("cid") == "m")["id"]
    sender.send(type="edit", id=original, msg="first", cid="e")
    edit = recipient.recv_until(lambda frame: frame["type"] == "edit")
    assert (edit["of"], edit["msg"], edit["from_user"]) == (original, "first", ann), edit
    status, body = api(there, bob, "GET", f"/api/messages?with={ann}")
    assert status == 200 and body["messages"][-1]["msg"] == "first" and body["messages"][-1]["edited"], body
    assert api(there, ann, "DELETE", f"/api/messages/{original}")[0] == 200  # deleted over HTTP there
    assert sender.recv_until(lambda frame: frame["type"] == "delete")["of"] == original
    for place in (here, there):
        latest = api(place, bob, "GET", f"/api/messages?with={ann}")[1]["messages"][-1]
        assert (latest["id"], latest["msg"], latest.get("deleted")) == (original, "", True), latest


# -- read markers across workers and hosts -------------------------------------


@SPREADS
def test_a_read_marker_reaches_the_users_and_the_peers_connections_on_the_other_worker(scaled, clients, name, spread):
    """A read frame sent on one worker (host) reaches the reader's own connection and the
    direct peer's on the other; the count there follows at once."""
    here, there = two_places(scaled, spread)
    ann, bob = name("ma"), name("mb")
    api(there, bob, "GET", "/api/users")  # bob has logged in: ann may write to him
    writer = clients(connect_at(there, ann))
    writer.send(to_user=bob, msg="read me", cid="m1")
    message = writer.recv_until(lambda frame: frame.get("cid") == "m1")
    reader, reader_elsewhere = clients(connect_at(here, bob)), clients(connect_at(there, bob))
    assert api(there, bob, "GET", "/api/conversations")[1]["conversations"][0]["unread"] == 1
    reader.send(type="read", up_to=message["id"], **{"with": ann})
    expected = {"type": "read", "user": bob, "with": ann, "up_to": message["id"]}
    for client in (reader_elsewhere, writer, reader):
        assert client.recv_until(lambda frame: frame["type"] == "read") == expected
    (pair,) = [c for c in api(there, ann, "GET", "/api/conversations")[1]["conversations"] if c["with"] == bob]
    assert pair["peer_read_up_to"] == message["id"]


# -- a greeting of bounded size across workers -------------------------------


def hello_at(place, user):
    """(a Client of `user` at `place`, its hello), read up to synced (see reach)."""
    client = reach(place, user)
    return client, client.sync()[0]


def test_past_the_presence_limit_one_s_people_on_the_other_worker_count(scaled, clients, name):
    """Two workers over Redis, past the limit: hello lists a direct partner connected to the
    other worker; the coming and going reach that partner there, and not a stranger beside them."""
    srv = scaled(workers=2, CHAT_PRESENCE_LIMIT="2")
    wait_for(lambda: len(workers_of(srv)) == 2, 10, "second worker")
    here, there = [(srv, pid) for pid in sorted(workers_of(srv))]
    me, partner = name("gm"), name("gp")
    srv.token(partner)
    assert api(here, me, "POST", "/api/messages", {"to_user": partner, "msg": "hi"})[0] == 201
    friend = clients(connect_at(there, partner))
    stranger = clients(connect_at(there, name("gs")))
    clients(connect_at(here, name("gt")))

    def past_the_limit(place):  # the workers learn the count from each other's heartbeats
        probe, hello = hello_at(place, name("probe"))
        probe.close()
        return hello.get("online_complete") is False
    for place in (here, there):  # both: a try of hello_at may come and go on either
        wait_for(lambda place=place: past_the_limit(place), 15, "greeting past the limit")
    mine, hello = hello_at(here, me)
    assert hello["online"] == [me, partner] and hello["online_complete"] is False
    assert friend.recv_until(lambda f: f.get("user") == me) == {"type": "presence", "user": me, "online": True}
    mine.close()
    assert friend.recv_until(lambda f: f.get("user") == me) == {"type": "presence", "user": me, "online": False}
    stranger.ws.settimeout(timeout(0.5))
    try:
        while True:
            frame = json.loads(stranger.ws.recv())
            assert frame.get("user") != me, frame
    except websocket.WebSocketTimeoutException:
        pass
