"""Work put off to the end of the current turn of the gevent loop, done once however often asked."""

import gevent


class OncePerIteration:
    """Runs `action()` once, when the greenlets running now have had their turn.

    Asking again before it ran changes nothing: many small pieces of work (frames for a
    socket, counts for a metric) gathered during one turn are then done in one go.
    """

    __slots__ = ("_action", "_scheduled")

    def __init__(self, action):
        self._action = action
        self._scheduled = False

    def request(self):
        """Have `action` run at the end of this turn, unless it is already due to."""
        if not self._scheduled:
            self._scheduled = True
            gevent.get_hub().loop.run_callback(self._run)

    def _run(self):
        self._scheduled = False  # what the action itself asks for waits for the next turn
        self._action()
