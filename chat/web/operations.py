"""What operators and load balancers ask: /healthz and /metrics."""

import struct

import gevent
from flask import Blueprint, Response, jsonify

from .. import metrics
from .helpers import runtime

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
def health():
    """200 while the store and the broker answer; 503 naming the parts that do not."""
    failing = runtime().failing()
    if failing:
        response = jsonify(status="unavailable", failing=failing)
        response.status_code = 503
        return response
    return jsonify(status="ok")


@bp.get("/metrics")
def prometheus_metrics():
    """Prometheus text format, summed over this host's workers (files read off the hub)."""
    for attempt in range(3):
        try:
            body = gevent.get_hub().threadpool.apply(metrics.render)
            break
        except (struct.error, RuntimeError):
            # A worker booting right now has a metric file created but not yet sized;
            # it is whole a moment later.
            if attempt == 2:
                raise
            gevent.sleep(0.05)
    return Response(body, content_type=metrics.CONTENT_TYPE)
