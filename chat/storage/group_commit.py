"""Group commit: the writes of many greenlets in one transaction, one commit, one fsync.

This is what lets a durable message cost a share of an fsync rather than a whole one:
each message is acknowledged only once stored, and every message queued while one
commit runs goes into the next.
"""

import logging
import time

import gevent
from gevent.event import AsyncResult

from .. import metrics
from ..errors import StoreUnavailable

log = logging.getLogger(__name__)


class GroupCommit:
    """Gathers operations from many greenlets into one batch: for writes, one transaction,
    one commit, one fsync; for reads, one trip to the thread pool.

    `run_batch(batch)` runs [(operation, args), ...] and returns one outcome per entry
    (a result, or the exception that entry raised). `op` labels its time in metrics.
    """

    def __init__(self, run_batch, op="commit"):
        self._run_batch = run_batch
        self._op = op
        self._pending = []
        self._committing = False

    @property
    def busy(self):
        """True while a batch is committing or waiting to."""
        return self._committing

    def submit(self, operation, *args, outcome=None):
        """Queue `operation(conn, *args)` for the next commit; return where its outcome goes.

        `outcome` has `set(result)` and `set_exception(exc)`, called on a greenlet of the
        commit's own, in the order the operations were submitted: they should not wait, or
        the outcomes after theirs wait too. By default it is a new AsyncResult to wait on.
        """
        outcome = AsyncResult() if outcome is None else outcome
        self._pending.append((operation, args, outcome))
        if not self._committing:
            self._committing = True
            gevent.spawn(self._commit_loop)
        return outcome

    def _commit_loop(self):
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                started = time.perf_counter()
                try:
                    outcomes = self._run_batch([(op, args) for op, args, _ in batch])
                except Exception as exc:  # every waiter must hear back, whatever broke
                    outcomes = [StoreUnavailable(f"the database failed: {exc}")] * len(batch)
                metrics.STORE_SECONDS.labels(self._op).observe(time.perf_counter() - started)
                # Reported on a greenlet of their own, so the next batch starts committing
                # while this one's waiters act on theirs.
                gevent.spawn(_report, batch, outcomes)
        finally:
            self._committing = False


def _report(batch, outcomes):
    for (_, _, outcome), result in zip(batch, outcomes):
        try:
            if isinstance(result, BaseException):
                outcome.set_exception(result)
            else:
                outcome.set(result)
        except Exception:  # pylint: disable=broad-except
            log.exception("acting on a stored outcome failed")
