"""What every view shares: the process's runtime and the JSON error body."""

from flask import current_app, jsonify, request

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


def hold_connection(chat):
    """(a held place for one more connection from the client's address, None), or
    (None, the 429 refusal) past CHAT_MAX_CONNECTIONS_PER_ADDRESS."""
    held = chat.limits.hold_connection(request.remote_addr)
    if held is None:
        return None, json_error(429, "too_many_connections", f"at most {chat.settings.max_connections_per_address} "
                                "connections from one address")
    return held, None
