"""A reader greenlet that lives only while data comes.

A quiet connection then costs its socket, its object and an I/O watcher, no greenlet
and no stack: thousands of idle connections stay small. A reader that has heard
nothing for a tick of LINGER seconds hands the socket back to the loop.
"""

import gevent
from gevent.hub import Waiter


LINGER = 1.0  # a reader quiet for a tick of this many seconds hands the socket back to the loop


class BusyPeriod:
    """A reader's busy spell. A timer ticks every LINGER seconds; a tick that finds the
    reader waiting, with nothing heard since the tick before, ends the spell.

    One timer for the whole spell, not one started and stopped around every wait.
    """

    __slots__ = ("_waiter", "_heard", "_timer")

    def __init__(self):
        self._waiter = None
        self._heard = True
        self._timer = gevent.get_hub().loop.timer(LINGER, LINGER)
        self._timer.start(self._tick)

    def _tick(self):
        if self._waiter is not None and not self._heard:
            self._waiter.switch(False)
        self._heard = False

    def wait(self, watcher):
        """Wait for the I/O `watcher`: True when it fired, False when a tick ended the spell."""
        waiter = self._waiter = Waiter()
        watcher.start(waiter.switch, True)
        try:
            came = waiter.get()
        finally:
            watcher.stop()
            self._waiter = None
        self._heard = came
        return came

    def close(self):
        """Stop the timer: the spell is over."""
        self._timer.close()
