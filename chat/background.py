"""A background greenlet with a lifecycle: started once, stopped once (Runtime.start/stop)."""

import gevent


class Background:
    """Runs `work()` on a greenlet of its own between `start()` and `stop()`; both are idempotent."""

    def __init__(self, work):
        self._work = work
        self._greenlet = None

    @property
    def running(self):
        """True between start() and stop()."""
        return self._greenlet is not None

    def start(self):
        """Spawn the greenlet, unless it runs already."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._work)

    def stop(self):
        """Kill the greenlet, if it runs."""
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
