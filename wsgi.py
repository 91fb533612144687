"""Entry point: `python wsgi.py` serves with gevent; gunicorn imports `app` from here."""

from gevent import monkey

monkey.patch_all()

# pylint: disable=wrong-import-position
import logging
import signal
import socket
import sys

import gevent

from chat import create_app
from chat.errors import SettingsError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

try:
    app = create_app()
except SettingsError as exc:
    sys.exit(f"chat: cannot start: {exc}")


def serve():
    """Serve on CHAT_HOST:CHAT_PORT until SIGTERM or SIGINT."""
    from gevent.pywsgi import WSGIServer

    from chat.process_tuning import raise_open_files_limit, tune_garbage_collector
    from chat.transport.handler import ChatHandler

    runtime = app.extensions["chat"]
    settings = runtime.settings
    raise_open_files_limit()
    tune_garbage_collector()
    server = WSGIServer((settings.host, settings.port), app, handler_class=ChatHandler)
    server.start()
    # Like gunicorn's listener: accepted sockets inherit TCP_NODELAY. Chat frames are small
    # and each one is news; Nagle's algorithm would hold one back until the peer acknowledges
    # the last, and the peer may delay that ACK by up to 40 ms.
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print(f"chat: listening on http://{settings.host}:{server.server_port}", flush=True)

    def stop():
        """Close every socket with 1001 (clients reconnect with `since`), then stop serving."""
        runtime.going_away()
        server.stop(timeout=5)

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    serve()
