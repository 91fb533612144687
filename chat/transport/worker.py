"""The gunicorn worker: geventwebsocket's worker pointed at the hardened handler."""

import gevent
from geventwebsocket.gunicorn.workers import GeventWebSocketWorker


class ChatWorker(GeventWebSocketWorker):
    """gunicorn's gevent pywsgi worker serving WebSockets through ChatHandler."""

    def load_wsgi(self):
        """Load the app, then take the handler's settings from it (before any server starts)."""
        super().load_wsgi()
        # Imported here, in the worker: the master imports this class, and the workers of a
        # rolling restart must load the handler's modules (metrics among them) from the code
        # on disk then, not inherit the master's.
        from .handler import ChatHandler  # pylint: disable=import-outside-toplevel
        app = getattr(self, "wsgi", None)  # None: gunicorn's --reload kept a syntax error for later
        self.wsgi_handler = ChatHandler if app is None else ChatHandler.configured(app.extensions["chat"].settings)

    def handle_exit(self, sig, frame):
        """SIGTERM (a stop, or the old workers of a HUP): close every socket with 1001.

        Clients reconnect with `since` to the workers still up; gunicorn's loop then
        waits up to graceful_timeout for the handlers to finish.
        """
        super().handle_exit(sig, frame)
        app = getattr(self, "wsgi", None)  # None: still booting (a HUP right after start), no sockets yet
        if app is not None:
            gevent.spawn(app.extensions["chat"].going_away)
