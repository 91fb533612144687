"""CHAT_RETENTION_DAYS: old messages pruned in the background (default: kept forever)."""

import logging
import time

import gevent

from ..background import Background

log = logging.getLogger(__name__)

INTERVAL = 3600.0  # prune hourly; a day's retention is never off by more than that


class Pruner(Background):
    """A greenlet that deletes messages older than the retention period, hourly."""

    def __init__(self, store, days):
        self.store = store
        self.seconds = days * 86400
        super().__init__(self._run)  # start() prunes now, then hourly; stop() stops

    def _prune_once(self):
        removed = self.store.prune(time.time() - self.seconds)
        if removed:
            log.info("retention: pruned %d messages", removed)
        return removed

    def _run(self):
        while True:
            try:
                self._prune_once()
            except Exception:  # the loop must outlive a failed pass
                log.exception("retention: pruning failed")
            gevent.sleep(INTERVAL)
