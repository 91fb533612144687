"""The Flask application: settings, sessions, proxies, the runtime and the blueprints."""

import datetime
import ipaddress
import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import metrics
from . import settings as settings_module
from .accounts.sessions import CookieSessions
from .accounts.tokens import load_secret_key
from .errors import SettingsError
from .runtime import Runtime
from .web.commands import cli


def create_app(settings=None):
    """Build the app from `settings` (default: the CHAT_* environment)."""
    settings = settings or settings_module.from_environ()
    metrics.prepare()
    _private_directory(settings.data_dir)
    app = Flask(__name__)  # templates and static files inside the package
    secret_key = load_secret_key(settings)
    app.config.update(SECRET_KEY=secret_key, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                      PERMANENT_SESSION_LIFETIME=datetime.timedelta(seconds=settings.token_lifetime),
                      MAX_CONTENT_LENGTH=settings.max_frame_bytes)  # a request body is one frame at most
    app.session_interface = CookieSessions()
    if settings.trusted_proxies:
        # Behind N reverse proxies: take scheme, host and client address from their
        # X-Forwarded-* headers (Secure cookies, the Origin check, per-address limits).
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["chat"] = Runtime(settings, secret_key).start()
    if settings.auth == "open" and not _loopback(settings.host):
        logging.getLogger(__name__).warning(
            "CHAT_AUTH=open on %s: anyone who can reach this address can speak as anyone", settings.host)

    from .web import api, conversations, errors, event_streams, operations, pages, rooms, security_headers, sockets, users  # pylint: disable=import-outside-toplevel
    app.register_blueprint(pages.bp)
    app.register_blueprint(event_streams.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(rooms.bp)
    app.register_blueprint(conversations.bp)
    app.register_blueprint(sockets.bp)
    app.register_blueprint(operations.bp)
    errors.register_handlers(app)
    security_headers.register(app)
    app.cli.add_command(cli)
    return app


def _private_directory(path):
    """Make CHAT_DATA_DIR, mode 0700, unless it is there; SettingsError naming it when it
    cannot be a directory. One that is there keeps its mode (it may be shared, as /tmp is),
    with a warning when others may read it."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise SettingsError(f"CHAT_DATA_DIR={path!r} is a file, not a directory")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"CHAT_DATA_DIR={path!r}: {exc.strerror}") from None
    if os.stat(path).st_mode & 0o077:
        logging.getLogger(__name__).warning(
            "CHAT_DATA_DIR=%s may be read by other users: chmod 700 it (the server writes its files 0600)", path)


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
