"""The gunicorn worker: geventwebsocket's worker pointed at the hardened handler."""

import gevent
from geventwebsocket.gunicorn.workers import GeventWebSocketWorker

from .handler import ChatHandler


class ChatWorker(GeventWebSocketWorker):
    """gunicorn's gevent pywsgi worker serving WebSockets through ChatHandler."""

    wsgi_handler = ChatHandler

    def load_wsgi(self):
        """Load the app, then take the handler's settings from it (before any server starts)."""
        super().load_wsgi()
        app = getattr(self, "wsgi", None)  # None: gunicorn's --reload kept a syntax error for later
        if app is not None:
            self.wsgi_handler = ChatHandler.configured(app.extensions["chat"].settings)

    def handle_exit(self, sig, frame):
        """SIGTERM (a stop, or the old workers of a HUP): close every socket with 1001.

        Clients reconnect with `since` to the workers still up; gunicorn's loop then
        waits up to graceful_timeout for the handlers to finish.
        """
        super().handle_exit(sig, frame)
        app = getattr(self, "wsgi", None)  # None: still booting (a HUP right after start), no sockets yet
        if app is not None:
            gevent.spawn(app.extensions["chat"].going_away)
