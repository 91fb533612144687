"""Presence over a real Redis, in-process: what the heartbeat may and may not undo."""

import gevent

from chat.delivery.broker import connect
from chat.delivery.presence import RedisPresence
from chat.delivery.registry import Registry


class SlowPresence(RedisPresence):
    """Its heartbeat's script waits a moment before it runs, as redis-py does when it checks
    a connection's health (a PING) before the command."""

    def __init__(self, client, registry):
        super().__init__(client, registry)
        beat = self._beat
        self._beat = lambda **kwargs: (gevent.sleep(0.1), beat(**kwargs))[1]


def test_a_leave_during_a_heartbeat_is_not_undone_by_it(redis_server):
    """A user who leaves while a heartbeat that still counts them is on its way stays gone."""
    registry = Registry(2)
    presence = SlowPresence(connect(redis_server.url), registry)
    conn = object()
    registry.add("nia", conn)
    assert presence.join("nia")
    beat = gevent.spawn(presence.heartbeat)
    gevent.sleep(0.01)  # the beat has taken its snapshot: nia is in it
    registry.remove("nia", conn)
    assert presence.leave("nia")
    beat.join(timeout=5)
    assert beat.successful()
    assert presence.online() == []


def test_a_join_that_follows_a_leave_lands_after_it(redis_server):
    """A page reload: the old tab's leave waits for a heartbeat on its way; the new tab's
    join, called after it, must not reach Redis first and be undone by it."""
    registry = Registry(2)
    presence = SlowPresence(connect(redis_server.url), registry)
    old_tab, new_tab = object(), object()
    registry.add("nia", old_tab)
    assert presence.join("nia")
    beat = gevent.spawn(presence.heartbeat)
    gevent.sleep(0.01)  # the beat has taken its snapshot
    registry.remove("nia", old_tab)
    leaving = gevent.spawn(presence.leave, "nia")
    gevent.sleep(0.01)  # the leave waits for the beat
    registry.add("nia", new_tab)
    presence.join("nia")
    leaving.join(timeout=5)
    beat.join(timeout=5)
    assert leaving.successful() and beat.successful()
    assert presence.online() == ["nia"]
