"""The CHAT_* settings (the README lists them), read once from the environment.

Every value is cast and checked here; a malformed one raises SettingsError
naming the variable, so the server never starts half-configured.
"""

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import SettingsError

AUTH_MODES = ("names", "token", "open")
LOG_FORMATS = ("text", "json")


def _int(low, high=None):
    def cast(name, raw):
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise SettingsError(f"{name}={raw!r} must be {bounds}")
        return value
    return cast


def _positive(name, raw):
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name}={raw!r} must be more than 0")
    return value


def _flag(name, raw):
    if raw not in ("0", "1"):
        raise SettingsError(f"{name}={raw!r} must be 0 or 1")
    return raw == "1"


def _choice(*allowed):
    def cast(name, raw):
        if raw not in allowed:
            raise SettingsError(f"{name}={raw!r} must be one of {', '.join(allowed)}")
        return raw
    return cast


def _text(name, raw):
    return raw


def _url(*schemes):
    def cast(name, raw):
        if not raw:
            return None
        if urlsplit(raw).scheme not in schemes:
            raise SettingsError(f"{name}={raw!r} must start with {' or '.join(s + '://' for s in schemes)}")
        return raw
    return cast


def _origins(name, raw):
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise SettingsError(f"{name}: {origin!r} is not an origin like https://chat.example.com")
    return origins


def _networks(name, raw):
    networks = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(f"{name}: {part!r} is not an address or a network like 10.0.0.0/8") from None
    return tuple(networks)


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1"))


@dataclass(frozen=True)
class Settings:
    """Typed settings; field metadata holds the variable, its default and its cast."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    data_dir: str = "./var"
    database_url: str | None = None
    redis_url: str | None = None
    auth: str = "names"
    secret_key: str = ""
    allowed_origins: tuple = ()
    trusted_proxies: int = 0
    echo_endpoint: bool = False
    max_frame_bytes: int = 65536
    max_message_chars: int = 4000
    rate_per_second: float = 20.0
    rate_burst: int = 40
    max_connections_per_user: int = 10
    login_attempts_per_minute: int = 10
    max_queue_bytes: int = 1 << 20
    ping_interval: float = 20.0
    idle_timeout: float = 60.0
    sse_heartbeat: float = 15.0
    token_lifetime: float = 30 * 86400.0
    retention_days: float = 0.0
    presence_limit: int = 1000
    accounts_per_address: int = 10
    limit_exempt: tuple = LOOPBACK
    max_connections_per_address: int = 200
    address_rate_per_second: float = 60.0
    address_rate_burst: int = 120
    header_timeout: float = 10.0
    max_rooms_per_user: int = 500
    max_room_members: int = 10000
    rooms_per_hour: int = 20
    typing_interval: float = 2.0
    log_format: str = "text"

    @property
    def postgresql(self):
        """True when messages live in PostgreSQL rather than SQLite."""
        return bool(self.database_url) and self.database_url.startswith("postgresql")

    @property
    def database_path(self):
        """The SQLite file of CHAT_DATABASE_URL, or chat.db under CHAT_DATA_DIR."""
        if not self.database_url:
            return os.path.join(self.data_dir, "chat.db")
        return os.path.abspath(self.database_url[len("sqlite:///"):])


# variable, field, cast: one line per setting, the only place that names them.
SPEC = (
    ("CHAT_HOST", "host", _text),
    ("CHAT_PORT", "port", _int(0, 65535)),
    ("CHAT_WORKERS", "workers", _int(1, 512)),
    ("CHAT_DATA_DIR", "data_dir", _text),
    ("CHAT_DATABASE_URL", "database_url", _url("sqlite", "postgresql")),
    ("CHAT_REDIS_URL", "redis_url", _url("redis", "rediss")),
    ("CHAT_AUTH", "auth", _choice(*AUTH_MODES)),
    ("CHAT_SECRET_KEY", "secret_key", _text),
    ("CHAT_ALLOWED_ORIGINS", "allowed_origins", _origins),
    ("CHAT_TRUSTED_PROXIES", "trusted_proxies", _int(0, 10)),
    ("CHAT_ECHO_ENDPOINT", "echo_endpoint", _flag),
    ("CHAT_MAX_FRAME_BYTES", "max_frame_bytes", _int(1024, 64 << 20)),
    ("CHAT_MAX_MESSAGE_CHARS", "max_message_chars", _int(1, 1 << 20)),
    ("CHAT_RATE_PER_SECOND", "rate_per_second", _positive),
    ("CHAT_RATE_BURST", "rate_burst", _int(1)),
    ("CHAT_MAX_CONNECTIONS_PER_USER", "max_connections_per_user", _int(1)),
    ("CHAT_LOGIN_ATTEMPTS_PER_MINUTE", "login_attempts_per_minute", _int(1)),
    ("CHAT_MAX_QUEUE_BYTES", "max_queue_bytes", _int(1024)),
    ("CHAT_PING_INTERVAL", "ping_interval", _positive),
    ("CHAT_IDLE_TIMEOUT", "idle_timeout", _positive),
    ("CHAT_SSE_HEARTBEAT", "sse_heartbeat", _positive),
    ("CHAT_TOKEN_LIFETIME", "token_lifetime", _positive),
    ("CHAT_RETENTION_DAYS", "retention_days", _positive),
    ("CHAT_PRESENCE_LIMIT", "presence_limit", _int(0)),
    ("CHAT_ACCOUNTS_PER_ADDRESS", "accounts_per_address", _int(1)),
    ("CHAT_LIMIT_EXEMPT", "limit_exempt", _networks),
    ("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "max_connections_per_address", _int(1)),
    ("CHAT_ADDRESS_RATE_PER_SECOND", "address_rate_per_second", _positive),
    ("CHAT_ADDRESS_RATE_BURST", "address_rate_burst", _int(1)),
    ("CHAT_HEADER_TIMEOUT", "header_timeout", _positive),
    ("CHAT_MAX_ROOMS_PER_USER", "max_rooms_per_user", _int(1)),
    ("CHAT_MAX_ROOM_MEMBERS", "max_room_members", _int(1)),
    ("CHAT_ROOMS_PER_HOUR", "rooms_per_hour", _int(1)),
    ("CHAT_TYPING_INTERVAL", "typing_interval", _positive),
    ("CHAT_LOG_FORMAT", "log_format", _choice(*LOG_FORMATS)),
)


def from_environ(environ=None):
    """Build Settings from `environ` (default: os.environ); raise SettingsError if malformed."""
    environ = os.environ if environ is None else environ
    values = {}
    for variable, field, cast in SPEC:
        raw = environ.get(variable)
        if raw is not None and (raw.strip() or field in ("secret_key", "allowed_origins", "limit_exempt")):
            values[field] = cast(variable, raw.strip())
    settings = Settings(**values)
    if settings.idle_timeout <= settings.ping_interval:
        raise SettingsError("CHAT_IDLE_TIMEOUT must be longer than CHAT_PING_INTERVAL")
    if settings.workers > 1 and not settings.redis_url:
        raise SettingsError(f"CHAT_WORKERS={settings.workers} needs CHAT_REDIS_URL: workers share "
                            "messages and presence through Redis (or set CHAT_WORKERS=1)")
    url = settings.database_url
    if url and url.startswith("sqlite") and (not url.startswith("sqlite:///") or url == "sqlite:///"):
        raise SettingsError(f"CHAT_DATABASE_URL={url!r}: write sqlite:///relative/path or sqlite:////absolute/path")
    return settings

