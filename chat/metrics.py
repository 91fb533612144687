"""Prometheus metrics, summed over every gunicorn worker of a host.

Under gunicorn, `gunicorn.conf.py` sets PROMETHEUS_MULTIPROC_DIR to a fresh directory
before anything imports prometheus_client: each worker keeps its values in files there
and /metrics adds them up, whichever worker answers. `python wsgi.py` keeps them in memory.
"""

import gc
import os

from greenlet import greenlet

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

from .loop_iteration import OncePerIteration

_DIR = "PROMETHEUS_MULTIPROC_DIR"

CONNECTIONS = Gauge("chat_connections", "Open chat connections", ["transport"], multiprocess_mode="livesum")
MESSAGES_IN = Counter("chat_messages_in_total", "New messages stored, from sockets and HTTP", ["kind"])
MESSAGES_OUT = Counter("chat_messages_out_total", "Stored messages published to the broker")
DELIVERIES = Counter("chat_deliveries_total", "Message frames queued to a connection (live, backlog, ack)")
ERRORS = Counter("chat_errors_total", "Error frames and HTTP error bodies sent, by code", ["code"])
SLOW_CONSUMERS = Counter("chat_slow_consumer_closes_total", "Connections closed for falling behind")
PRESENCE_QUIET = Counter("chat_presence_unannounced_total",
                         "Comings and goings pushed to the user's own people only, more than CHAT_PRESENCE_LIMIT "
                         "users being online")
BROKER_RESUMES = Counter("chat_broker_resumes_total", "Broker subscriptions restored after a break")
STORE_SECONDS = Histogram("chat_store_seconds", "Time of a store operation (commit: one group commit)", ["op"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))

GREENLETS = Gauge("chat_greenlets", "Greenlets alive in this process, counted on scrape", multiprocess_mode="livesum")

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Tally:
    """Counts of the message path, kept as plain numbers and added to their counters once
    per turn of the loop: a counter's `inc` takes a lock, several times per message."""

    def __init__(self):
        self._counts = {}
        self._turn = OncePerIteration(self._flush)

    def add(self, counter, amount=1):
        """Add `amount` to `counter` at the end of this loop turn."""
        counts = self._counts
        if not counts:  # the first count of this turn: none is due yet (the flush empties them)
            self._turn.request()
        counts[counter] = counts.get(counter, 0) + amount

    def _flush(self):
        counts, self._counts = self._counts, {}
        for counter, amount in counts.items():
            counter.inc(amount)


count = _Tally().add


def prepare():
    """Give every labelled series its zero in this process, before it serves.

    Under gunicorn this creates the worker's metric files up front: a file that another
    worker's /metrics finds in the instant between its creation and its sizing reads as
    corrupt. It also makes every known series show from the start.
    """
    for transport in ("ws", "sse"):
        CONNECTIONS.labels(transport)
    for kind in ("group", "direct", "room"):
        MESSAGES_IN.labels(kind)
    for op in ("commit", "read"):
        STORE_SECONDS.labels(op)
    for counter in (MESSAGES_OUT, DELIVERIES, SLOW_CONSUMERS, BROKER_RESUMES, PRESENCE_QUIET):
        counter.inc(0)  # a fork moves a value to this process's file on first use


def render():
    """The text exposition of every metric, across workers when there are several.

    Reads files under gunicorn: call it off the gevent hub (a thread of the pool).
    """
    GREENLETS.set(_greenlets())
    if _DIR in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _greenlets():
    """How many greenlets this process holds: a walk over the collector's objects, a few
    milliseconds per scrape, which is rare; gevent keeps no count of its own."""
    return sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet))
