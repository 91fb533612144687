"""Serving with gevent's WSGIServer: what `python wsgi.py`, `python -m chat` and `chat-server` run.

The caller has patched the standard library with gevent's monkey first.
"""

import errno
import logging
import signal
import socket

import gevent

from . import logs
from .errors import SettingsError, refuse_start
from .process_tuning import cap_malloc_arenas, raise_open_files_limit, tune_garbage_collector
from .settings import from_environ

log = logging.getLogger(__name__)


def build_app():
    """The app from the CHAT_* environment, logging as CHAT_LOG_FORMAT says (from before the
    app is built, so its warnings come out the same way); exits with one line naming the
    setting when one is wrong."""
    from . import create_app  # pylint: disable=import-outside-toplevel
    cap_malloc_arenas()  # before the app starts the thread pool
    try:
        settings = from_environ()
        logs.configure(settings.log_format)
        return create_app(settings)
    except SettingsError as exc:
        refuse_start(exc)


def _listen_problem(settings, exc):
    """One line naming the setting that kept the server from listening."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, socket.gaierror):
        return f"CHAT_HOST={settings.host!r} is not a host name this machine can resolve ({exc.strerror})"
    if exc.errno == errno.EADDRINUSE:
        return f"CHAT_PORT={settings.port}: {where} is in use (another server is listening there)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"CHAT_HOST={settings.host!r} is not an address of this machine"
    if exc.errno == errno.EACCES:
        return f"CHAT_PORT={settings.port}: not allowed to listen there (ports below 1024 need privileges)"
    return f"CHAT_HOST/CHAT_PORT: cannot listen on {where}: {exc.strerror or exc}"


def serve(app):
    """Serve `app` on CHAT_HOST:CHAT_PORT until SIGTERM or SIGINT, then stop its runtime."""
    from gevent.pywsgi import WSGIServer  # pylint: disable=import-outside-toplevel

    from .transport.handler import ChatHandler  # pylint: disable=import-outside-toplevel

    runtime = app.extensions["chat"]
    settings = runtime.settings
    raise_open_files_limit()
    tune_garbage_collector()
    server = WSGIServer((settings.host, settings.port), app, handler_class=ChatHandler.configured(settings))
    try:
        server.start()
    except OSError as exc:
        runtime.stop()
        refuse_start(_listen_problem(settings, exc))
    # Like gunicorn's listener: accepted sockets inherit TCP_NODELAY. Chat frames are small
    # and each one is news; Nagle's algorithm would hold one back until the peer acknowledges
    # the last, and the peer may delay that ACK by up to 40 ms.
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    log.info("listening on http://%s:%s", settings.host, server.server_port)

    def stop():
        """Close every socket with 1001 (clients reconnect with `since`), then stop serving."""
        runtime.going_away()
        server.stop(timeout=5)

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    server.serve_forever()
    runtime.stop()
