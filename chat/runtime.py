"""The composition root: the parts of one server process, built from the settings, started and stopped."""

import logging

from .accounts.passwords import Accounts
from .accounts.tokens import Tokens
from .delivery import broker as brokers
from .delivery.address_limits import AddressLimits
from .delivery.presence import LocalPresence, RedisPresence
from .delivery.registry import Registry
from .delivery.rooms import Rooms
from .delivery.router import Router
from .errors import ChatError
from .storage.retention import Pruner
from .storage.opening import open_store
from .transport.keepalive import Keepalive

log = logging.getLogger(__name__)


class Runtime:
    """Everything a request handler needs: settings, store, router, limits, rooms, tokens, accounts, keepalive.

    Building it opens the store and connects to Redis; `start()` starts the background
    greenlets (the log follower, the broker's listener, presence, pruning) and `stop()`
    closes every connection and stops them, so a test can run one in-process.
    """

    def __init__(self, settings, secret_key):
        self.settings = settings
        self.store = open_store(settings)
        self.registry = Registry(settings.max_connections_per_user)
        if settings.redis_url:
            client = brokers.connect(settings.redis_url)
            self.broker, presence = brokers.RedisBroker(client), RedisPresence(client, self.registry)
        else:
            self.broker, presence = brokers.LocalBroker(), LocalPresence(self.registry)
        self.limits = AddressLimits(settings)
        self.router = Router(settings, self.store, self.registry, self.broker, presence, self.limits)
        self.rooms = Rooms(settings, self.store, self.router)
        self.tokens = Tokens(secret_key, settings.token_lifetime)
        self.accounts = Accounts(self.store, settings, self.limits.accounts_per_hour)
        self.accounts.on_erased = self.router.account_erased
        self.accounts.on_logged_out = self.router.session_ended
        self.keepalive = Keepalive(settings.ping_interval, settings.idle_timeout)
        self.pruner = Pruner(self.store, settings.retention_days) if settings.retention_days else None

    def start(self):
        """Start the background work; the app serves once this returned. Returns self."""
        self.router.start()
        if self.pruner is not None:
            self.pruner.start()
        return self

    def stop(self):
        """Close every connection (1001), stop the background work, close the store."""
        self.going_away()
        if self.pruner is not None:
            self.pruner.stop()
        self.keepalive.stop()
        self.router.stop()
        self.store.close()

    def going_away(self):
        """Close every connection of this process with 1001: clients resume with `since`."""
        self.router.close_all(1001, "server restart")

    def failing(self):
        """The parts that keep this process from serving: "store", "broker" (each logged)."""
        found = []
        for name, part in (("store", self.store), ("broker", self.broker)):
            try:
                part.ping()
            except ChatError as exc:
                log.error("health: the %s fails: %s", name, exc)
                found.append(name)
        return found
