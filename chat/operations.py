"""What operators and load balancers ask: /healthz and /metrics."""

import gevent
from flask import Blueprint, Response, jsonify

from . import metrics
from .api import services

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
def health():
    """200 while the store and the broker answer; 503 naming the parts that do not."""
    failing = services().failing()
    if failing:
        response = jsonify(status="unavailable", failing=failing)
        response.status_code = 503
        return response
    return jsonify(status="ok")


@bp.get("/metrics")
def prometheus_metrics():
    """Prometheus text format, summed over this host's workers (files read off the hub)."""
    body = gevent.get_hub().threadpool.apply(metrics.render)
    return Response(body, content_type=metrics.CONTENT_TYPE)
