"""The gunicorn worker: geventwebsocket's worker pointed at the hardened handler."""

from geventwebsocket.gunicorn.workers import GeventWebSocketWorker

from .transport import ChatHandler


class ChatWorker(GeventWebSocketWorker):
    """gunicorn's gevent pywsgi worker serving WebSockets through ChatHandler."""

    wsgi_handler = ChatHandler
