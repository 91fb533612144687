"""The router in-process, with fake connections: greeting, delivery, acknowledgement, refusal."""

import json

import gevent
import pytest

from chat.delivery.broker import LocalBroker
from chat.delivery.presence import LocalPresence
from chat.delivery.registry import Registry
from chat.delivery.router import Router
from chat.protocol.client_frames import validate_message
from chat.settings import Settings
from chat.storage.sqlite.store import SqliteStore
from chat.transport.connection import State
from liveserver import timeout


class FakeConnection:
    """A Connection that keeps what it is sent, decoded; `listen` keeps the router's callbacks."""

    transport = "ws"

    def __init__(self):
        self.state = State.OPEN
        self.close_code = None
        self.on_close = None
        self.frames = []
        self.on_message = self.try_now = None

    @property
    def closed(self):
        return self.state is not State.OPEN

    def send(self, outgoing):
        if self.closed:
            return False
        self.frames.append(json.loads(outgoing.data))
        return True

    def close(self, code=1000, reason=""):  # pylint: disable=unused-argument
        if not self.closed:
            self.state, self.close_code = State.CLOSED, code
            callback, self.on_close = self.on_close, None
            if callback:
                gevent.spawn(callback, self)

    def listen(self, on_message, try_now):
        self.on_message, self.try_now = on_message, try_now

    def receive(self):
        return None

    def types(self):
        return [frame["type"] for frame in self.frames]

    def wait_for(self, predicate, seconds=5.0):
        """The first frame matching `predicate`, waiting up to `seconds`."""
        with gevent.Timeout(seconds):
            while True:
                for frame in self.frames:
                    if predicate(frame):
                        return frame
                gevent.sleep(0.005)


@pytest.fixture
def router(tmp_path):
    """A started router over a temporary SQLite store and the in-process broker."""
    settings = Settings(data_dir=str(tmp_path), rate_burst=5, max_connections_per_user=2)
    store = SqliteStore(str(tmp_path / "chat.db"))
    registry = Registry(settings.max_connections_per_user)
    router = Router(settings, store, registry, LocalBroker(), LocalPresence(registry))
    router.start()
    yield router
    router.close_all(1001, "test over")
    router.stop()
    store.close()


def test_a_connection_is_greeted_with_hello_then_synced(router):
    """hello (listing the user online) and synced, in that order, and nothing else on a new store."""
    conn = FakeConnection()
    router.open("ann", conn)
    assert conn.types() == ["hello", "synced"]
    assert conn.frames[0]["online"] == ["ann"] and conn.frames[1] == {"type": "synced", "last_id": 0,
                                                                      "truncated": False}


def test_a_direct_message_reaches_both_and_the_sender_gets_the_cid(router):
    """The sending connection's copy carries the cid; the recipient's does not; others get nothing."""
    ann, ben, cat = FakeConnection(), FakeConnection(), FakeConnection()
    for user, conn in (("ann", ann), ("ben", ben), ("cat", cat)):
        router.open(user, conn)
    router.serve("ann", ann)
    assert ann.try_now('{"to_user": "ben", "msg": "hi", "cid": "k1"}') is True
    ack = ann.wait_for(lambda frame: frame.get("cid") == "k1")
    got = ben.wait_for(lambda frame: frame["type"] == "message")
    assert ack["id"] == got["id"] and "cid" not in got and got["msg"] == "hi"
    assert "message" not in cat.types()


def test_the_loop_path_declines_what_would_wait(router, tmp_path):
    """try_now declines, doing nothing, a message whose recipient only the database knows;
    the reader's path then delivers it."""
    other = SqliteStore(str(tmp_path / "chat.db"))
    other.remember_user("zed")  # stored by another process: not in this router's cache
    other.close()
    mia = FakeConnection()
    router.serve("mia", mia)
    frame = '{"to_user": "zed", "msg": "later", "cid": "z1"}'
    assert mia.try_now(frame) is False
    gevent.sleep(0.05)
    assert "message" not in mia.types()
    mia.on_message(frame)
    assert mia.wait_for(lambda f: f.get("cid") == "z1")["to_user"] == "zed"


def test_a_refused_frame_is_an_error_and_the_connection_stays(router):
    """Bad JSON and an unknown recipient are error frames (with the cid); nothing is closed."""
    conn = FakeConnection()
    router.serve("dan", conn)
    conn.on_message("{not json")
    conn.on_message('{"to_user": "nobody_at_all", "msg": "hi", "cid": "x"}')
    errors = [frame for frame in conn.frames if frame["type"] == "error"]
    assert [(e["code"], e.get("cid")) for e in errors] == [("bad_json", None), ("unknown_user", "x")]
    assert not conn.closed


def test_a_repeated_cid_is_acknowledged_once_stored_and_not_delivered_again(router):
    """The same cid twice: one message stored, both sends acknowledged with the same id."""
    eve, fay = FakeConnection(), FakeConnection()
    router.open("fay", fay)
    router.serve("eve", eve)
    for _ in range(2):
        eve.on_message('{"to_user": "fay", "msg": "once", "cid": "same"}')
        eve.wait_for(lambda frame: frame.get("cid") == "same")
    gevent.sleep(0.1)
    acks = [frame for frame in eve.frames if frame.get("cid") == "same"]
    assert len(acks) == 2 and acks[0]["id"] == acks[1]["id"]
    assert len([f for f in fay.frames if f["type"] == "message"]) == 1


def test_the_rate_limit_refuses_past_the_burst(router):
    """Past the burst (5 here), messages are refused rate_limited."""
    conn = FakeConnection()
    router.serve("gus", conn)
    for n in range(8):
        conn.on_message(json.dumps({"msg": f"m{n}", "cid": f"c{n}"}))
    codes = [frame["code"] for frame in conn.frames if frame["type"] == "error"]
    assert codes == ["rate_limited"] * 3


def test_http_accept_stores_and_delivers(router):
    """accept() (the HTTP path) returns the stored record and delivers it to the group."""
    listener = FakeConnection()
    router.open("hal", listener)
    record, created = router.accept("ivy", validate_message({"msg": "over http"}, 4000))
    assert created and record.msg == "over http"
    assert listener.wait_for(lambda frame: frame["type"] == "message")["id"] == record.id


def test_a_closed_connection_is_unregistered_and_presence_announced(router):
    """The last connection of a user closing tells the others the user went offline."""
    jay, kim = FakeConnection(), FakeConnection()
    router.open("jay", jay)
    router.open("kim", kim)
    kim.close()
    gone = jay.wait_for(lambda frame: frame["type"] == "presence" and not frame["online"])
    assert gone["user"] == "kim" and router.registry.sockets_of("kim") == ()


def test_too_many_connections_are_refused(router):
    """Past the per-user limit (2 here), serve closes the next connection with 1008."""
    conns = [FakeConnection() for _ in range(3)]
    for conn in conns:
        router.serve("lee", conn)
    assert conns[2].close_code == 1008 and not conns[0].closed


class SlowPresence(LocalPresence):
    """A presence whose join waits on the network (as Redis's does), while others' news arrives."""

    def __init__(self, registry):
        super().__init__(registry)
        self.router = None

    def join(self, user):
        self.router.deliver({"kind": "presence", "user": "someone_else", "online": True})
        gevent.sleep(0.01)
        return super().join(user)


def test_nothing_reaches_a_connection_before_its_hello(tmp_path):
    """A presence frame delivered while the connection is being admitted waits for hello."""
    store = SqliteStore(str(tmp_path / "chat.db"))
    registry = Registry(2)
    presence = SlowPresence(registry)
    router = Router(Settings(data_dir=str(tmp_path)), store, registry, LocalBroker(), presence)
    presence.router = router
    router.start()
    try:
        conn = FakeConnection()
        router.open("nia", conn)
        assert conn.types()[:2] == ["hello", "synced"]
        assert "presence" in conn.types()
    finally:
        router.stop()
        store.close()


def test_an_address_refusal_takes_nothing_from_the_user(tmp_path):
    """Past its address's burst a message is refused, and its user's own bucket keeps the token:
    the user's connection from an exempt address may still send the rest of the user's burst."""
    settings = Settings(data_dir=str(tmp_path), rate_per_second=0.001, rate_burst=4,
                        address_rate_per_second=0.001, address_rate_burst=2)
    store = SqliteStore(str(tmp_path / "chat.db"))
    registry = Registry(settings.max_connections_per_user)
    router = Router(settings, store, registry, LocalBroker(), LocalPresence(registry))
    router.start()
    try:
        far, near = FakeConnection(), FakeConnection()
        router.serve("nia", far, held=router.limits.hold_connection("203.0.113.9"))
        router.serve("nia", near, held=router.limits.hold_connection("127.0.0.1"))
        for conn, tag, count in ((far, "f", 4), (near, "n", 3)):
            for n in range(count):
                conn.on_message(json.dumps({"msg": f"{tag}{n}", "cid": f"{tag}{n}"}))
            conn.wait_for(lambda frame, tag=tag: frame.get("cid") == f"{tag}1" and frame["type"] == "message")

        def outcomes(conn):  # cid -> "stored" or the error's code and detail
            return {frame["cid"]: (frame.get("code", "stored"), "address" in frame.get("detail", ""))
                    for frame in conn.frames if frame["type"] in ("message", "error") and frame.get("cid")}

        refused_by_address = ("rate_limited", True)
        assert outcomes(far) == {"f0": ("stored", False), "f1": ("stored", False), "f2": refused_by_address,
                                 "f3": refused_by_address}
        assert outcomes(near) == {"n0": ("stored", False), "n1": ("stored", False), "n2": ("rate_limited", False)}
    finally:
        router.close_all(1001, "test over")
        router.stop()
        store.close()


def test_what_was_stored_before_the_subscription_is_read_once_it_is_made(tmp_path):
    """A message another process stored after this router read the log's end, while its wake
    could not be heard yet, is delivered as soon as the router subscribes, not at its next poll."""
    store = SqliteStore(str(tmp_path / "chat.db"))
    registry = Registry(2)
    router = Router(Settings(data_dir=str(tmp_path)), store, registry, LocalBroker(), LocalPresence(registry))
    elsewhere = SqliteStore(str(tmp_path / "chat.db"))
    record, _ = elsewhere.add_message("ann", None, "before you listened")
    router.start()
    router.follower.stop()  # no poll: the subscription alone must have it read
    try:
        with gevent.Timeout(timeout(5)):
            while router.follower.cursor < record.id:
                gevent.sleep(0.005)
    finally:
        router.stop()
        elsewhere.close()
        store.close()
