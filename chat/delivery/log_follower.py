"""Following the message log: every process delivers what the store holds, in id order.

The store hands out ids in commit order, so "every message after the last one
delivered here" is a gapless, ordered read. A published event only says "look
now"; a lost event (a worker killed between commit and publish, Redis down) is
found by the next look, at the latest one POLL_SECONDS later. Each process thus
delivers each message once and in order, which is what lets a client resume
from the newest id it has seen.
"""

import logging

import gevent

from ..background import Background
from ..errors import StoreUnavailable

log = logging.getLogger(__name__)

PAGE = 500
POLL_SECONDS = 1.0


class LogFollower:
    """Calls `deliver(message, cid)` for each stored message, once, oldest first."""

    def __init__(self, store, deliver):
        self.store = store
        self._deliver = deliver
        self.cursor = store.last_id()  # everything up to here predates this process or was delivered
        self._reading = False
        self._again = False
        self._poller = Background(self._poll)

    def start(self):
        """Look at the log every POLL_SECONDS, whatever the broker says."""
        self._poller.start()

    def stop(self):
        """Stop polling."""
        self._poller.stop()

    def offer(self, record, cid):
        """Deliver a message this process just committed, if it is the next one; True if so.

        Saves reading back what was just written. When another process's message may
        come between (a gap after the cursor), it is left to the next read instead.
        """
        if record.id != self.cursor + 1:
            return False
        self.cursor = record.id
        self._deliver(record, cid)
        return True

    def poke(self):
        """Read what is new, now or right after the read under way."""
        if self._reading:
            self._again = True
            return
        self._reading = True
        gevent.spawn(self._catch_up)

    def _catch_up(self):
        try:
            while True:
                self._again = False
                page = self.store.after(self.cursor, PAGE)
                for record, cid in page:
                    if record.id <= self.cursor:
                        continue  # offered while this page was read
                    self.cursor = record.id
                    self._deliver(record, cid)
                if len(page) < PAGE and not self._again:
                    return
        except StoreUnavailable as exc:
            log.error("cannot follow the message log (retrying): %s", exc)
        finally:
            self._reading = False

    def _poll(self):
        while True:
            gevent.sleep(POLL_SECONDS)
            self.poke()
