"""Keepalive: one greenlet pings quiet connections and closes silent ones."""

import logging
from time import monotonic

import gevent

from ..background import Background

log = logging.getLogger(__name__)


class Keepalive:
    """One greenlet that pings quiet connections and closes silent ones."""

    def __init__(self, ping_interval, idle_timeout):
        self.ping_interval = ping_interval
        self.idle_timeout = idle_timeout
        self._sockets = set()
        self._loop = Background(self._run)

    def add(self, ws):
        """Watch `ws` until it closes."""
        self._sockets.add(ws)
        self._loop.start()

    def discard(self, ws):
        """Stop watching `ws`."""
        self._sockets.discard(ws)

    def stop(self):
        """Stop the loop (it starts again with the next socket added)."""
        self._loop.stop()

    def _run(self):
        tick = min(self.ping_interval, self.idle_timeout - self.ping_interval) / 4
        while True:
            gevent.sleep(tick)
            now = monotonic()
            for ws in list(self._sockets):
                try:
                    ws.check_alive(now, self.ping_interval, self.idle_timeout)
                except Exception:  # one broken socket must not stop the loop
                    log.exception("keepalive check failed")
