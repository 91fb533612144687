"""The parts of one server process, built once from the settings."""

from .accounts import Accounts
from .auth import Tokens
from .broker import LocalBroker
from .registry import Registry
from .retention import Pruner
from .router import Router
from .sqlite_store import SqliteStore
from .transport import Keepalive


class Services:
    """Everything a request handler needs: settings, store, router, tokens, accounts, keepalive."""

    def __init__(self, settings, secret_key):
        self.settings = settings
        self.store = SqliteStore(settings.database_path)
        self.registry = Registry(settings.max_connections_per_user)
        self.router = Router(settings, self.store, self.registry, LocalBroker())
        self.tokens = Tokens(secret_key, settings.token_lifetime)
        self.accounts = Accounts(self.store, settings.login_attempts_per_minute, settings.auth == "names")
        self.keepalive = Keepalive(settings.ping_interval, settings.idle_timeout)
        self.pruner = Pruner(self.store, settings.retention_days) if settings.retention_days else None
