"""The parts of one server process, built once from the settings."""

from .auth import Tokens
from .broker import LocalBroker
from .memory_store import MemoryStore
from .registry import Registry
from .router import Router
from .transport import Keepalive


class Services:
    """Everything a request handler needs: settings, store, router, tokens, keepalive."""

    def __init__(self, settings, secret_key):
        self.settings = settings
        self.store = MemoryStore()
        self.registry = Registry(settings.max_connections_per_user)
        self.router = Router(settings, self.store, self.registry, LocalBroker())
        self.tokens = Tokens(secret_key, settings.token_lifetime)
        self.keepalive = Keepalive(settings.ping_interval, settings.idle_timeout)
