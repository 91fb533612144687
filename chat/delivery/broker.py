"""Fan-out of events between processes: one small interface, two implementations.

A broker carries small dicts (events: a message was stored, a user came or
went, a user signed out) from the process that publishes them to every
process's router, itself included. Messages themselves travel through the
store; an event only says "look" (see log_follower.py). The interface:

- `subscribe(deliver, resumed, subscribed)`: call `deliver(event)` for each
  event, `subscribed()` each time the subscription is made (what was published
  before it was missed: the router looks at the log), and `resumed()` when a
  broken subscription is whole again (the router has its clients resume from
  the store).
- `unsubscribe()`: stop delivering (the process stops).
- `publish(event)`: hand an event on; False when it could not be (logged).
- `ping()`: raise BrokerUnavailable unless the broker answers.
"""

import functools
import logging

import gevent
import orjson
import redis

from ..background import Background
from ..errors import BrokerUnavailable, SettingsError

log = logging.getLogger(__name__)

CHANNEL = "chat:events"
RETRY_SECONDS = 0.5  # a restarted Redis is found again within this


class LocalBroker:
    """One process: publishing is delivering."""

    shared = False  # no other process hears what is published

    def __init__(self):
        self._deliver = None

    def subscribe(self, deliver, resumed, subscribed):  # pylint: disable=unused-argument
        """Call `deliver(event)` for every published event; it never breaks, so never resumes."""
        self._deliver = deliver
        subscribed()

    def unsubscribe(self):
        """Deliver nothing from now on."""
        self._deliver = None

    def publish(self, event):
        """Hand `event` straight to the subscriber."""
        if self._deliver is not None:
            self._deliver(event)
        return True

    def ping(self):
        """Always answers."""


class RedisBroker:
    """Every worker and host, through one Redis pub/sub channel."""

    shared = True

    def __init__(self, client):
        self.client = client
        self.up = False
        self._listener = None

    def subscribe(self, deliver, resumed, subscribed):
        """Listen on a greenlet of its own, resubscribing (and calling `resumed`) after a break."""
        if self._listener is None:
            self._listener = Background(functools.partial(self._listen, deliver, resumed, subscribed))
            self._listener.start()

    def unsubscribe(self):
        """Stop listening."""
        if self._listener is not None:
            self._listener.stop()
            self._listener, self.up = None, False

    def _listen(self, deliver, resumed, subscribed):
        broken = False
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(CHANNEL)
                self.up = True
                subscribed()
                if broken:
                    log.warning("Redis answers again: routing resumes")
                    broken = False
                    resumed()
                while True:
                    item = pubsub.get_message(timeout=1.0)
                    if item is not None:
                        deliver(orjson.loads(item["data"]))
            except redis.RedisError as exc:
                if not broken:
                    log.error("Redis subscription lost (%s): retrying every %ss", exc, RETRY_SECONDS)
                self.up, broken = False, True
            finally:
                pubsub.close()
            gevent.sleep(RETRY_SECONDS)

    def publish(self, event):
        """PUBLISH to every process; False (and logged) when Redis does not answer."""
        try:
            self.client.publish(CHANNEL, orjson.dumps(event))
            return True
        except redis.RedisError as exc:
            log.error("event %s not published: %s", event["kind"], exc)
            return False

    def ping(self):
        """Raise BrokerUnavailable unless Redis answers and this process is subscribed."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"Redis does not answer: {exc}") from None
        if not self.up:
            raise BrokerUnavailable("not subscribed to Redis yet")


def connect(url):
    """A Redis client for the broker and presence, quick to notice a dead server.

    Raises SettingsError naming CHAT_REDIS_URL when Redis does not answer at start.
    """
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_keepalive=True, health_check_interval=5,
                                  retry_on_timeout=False)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SettingsError(f"CHAT_REDIS_URL: Redis does not answer: {exc}") from None
    return client
