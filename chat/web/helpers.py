"""What every view shares: the process's runtime and the JSON error body."""

from flask import current_app, jsonify

from .. import metrics


def runtime():
    """The running process's Runtime."""
    return current_app.extensions["chat"]


def json_error(status, code, detail):
    """A response with the protocol's JSON error body (docs/protocol.md)."""
    metrics.ERRORS.labels(code).inc()
    response = jsonify(error={"code": code, "detail": detail})
    response.status_code = status
    return response
