"""Telling every process to look at the log: one "look" event for many stored messages.

An event only says "look" (messages travel through the store): one covers every
message committed while the one before was on its way, and a round trip to Redis
never holds up the commit's greenlet.
"""

import gevent

from .. import metrics


class Publisher:
    """Publishes "look" events for messages stored here, one at a time, coalesced."""

    def __init__(self, broker, follower):
        self.broker = broker
        self.follower = follower
        self._unpublished = 0  # messages stored here since the last event went out
        self._newest = 0
        self._publishing = False

    def stored(self, message_id):
        """Message `message_id` was stored here: have every process look, soon."""
        self._unpublished += 1
        self._newest = max(self._newest, message_id)
        if not self._publishing:
            self._publishing = True
            gevent.spawn(self._run)

    def _run(self):
        try:
            while self._unpublished:
                count, self._unpublished = self._unpublished, 0
                if self.broker.publish({"kind": "message", "id": self._newest}):
                    metrics.count(metrics.MESSAGES_OUT, count)
                else:
                    self.follower.poke()  # no broker: this process still delivers, others poll
        finally:
            self._publishing = False
