"""A finished ChatWebSocket is freed by reference counting alone, in-process.

The server collects cycles seldom (chat/process_tuning.py), so a connection left in a
reference cycle would stay in memory long after it closed: the soak run's RSS grew so.
"""

import functools
import gc

import gevent
import gevent.socket

from chat.transport.websocket import ChatWebSocket


class FakeHandler:  # pylint: disable=too-few-public-methods
    """What ChatWebSocket takes from gevent's handler: the socket, its reader, the response."""

    def __init__(self, sock):
        self.socket = sock
        self.rfile = sock.makefile("rb")
        self.environ = {"HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ=="}

    def start_response(self, status, headers):
        """The 101 goes nowhere."""

    def write(self, data):
        """Nothing is written by the handler itself."""


def live_websockets():
    """The ChatWebSocket objects the collector tracks now."""
    return [obj for obj in gc.get_objects() if isinstance(obj, ChatWebSocket)]


def test_a_finished_websocket_is_freed_without_the_collector():
    """The router's listen handlers name the socket (a cycle); finishing must break it."""
    ours, peer = gevent.socket.socketpair()
    gc.collect()
    before = len(live_websockets())
    gc.disable()
    try:
        ws = ChatWebSocket(FakeHandler(ours))
        ws.accept(max_size=1024, max_queue=1024)
        ws.listen(functools.partial(lambda conn, message: None, ws),
                  functools.partial(lambda conn, message: True, ws))
        ws.finish()
        gevent.sleep(0.05)  # the writer and the close timer end
        del ws
        assert len(live_websockets()) == before
    finally:
        gc.enable()
        ours.close()
        peer.close()
