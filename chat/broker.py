"""Fan-out of events between processes. This is the in-process broker: one
process, so publishing is delivering. A Redis broker implements the same two
methods for several workers and hosts."""


class LocalBroker:
    """Publishes each event straight to this process's subscriber."""

    def __init__(self):
        self._deliver = None

    def subscribe(self, deliver):
        """Call `deliver(event)` for every published event."""
        self._deliver = deliver

    def publish(self, event):
        """Hand `event` (a dict) to the subscriber."""
        if self._deliver is not None:
            self._deliver(event)
