"""What every view shares: the process's runtime, the caller, JSON bodies and JSON errors."""

import functools

from flask import abort, current_app, jsonify, request

from .. import metrics
from ..accounts import sessions
from ..errors import FrameRejected
from ..protocol import client_frames


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


def unauthenticated():
    """The 401 of a request that proves nobody."""
    return json_error(401, "unauthenticated", "log in first, or send Authorization: Bearer <token>")


def logged_in(view):
    """Call `view(chat, user, **kwargs)` with the runtime and the caller's display name; 401 for nobody."""
    @functools.wraps(view)
    def wrapper(**kwargs):
        chat = runtime()
        user = sessions.current_user(chat)
        if user is None:
            return unauthenticated()
        return view(chat, chat.store.remember_user(user), **kwargs)
    return wrapper


def body_text():
    """The request's body as text; FrameRejected (bad_json) when it is not UTF-8."""
    try:
        return request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        raise FrameRejected("bad_json", "the body is not UTF-8") from None


def json_body():
    """The request's JSON object, read by the sockets' parser; 400 for anything else."""
    if not request.is_json:
        abort(400, "send a JSON object with Content-Type: application/json")
    body = client_frames.parse_json(body_text())
    if not isinstance(body, dict):
        raise FrameRejected("bad_json", "send a JSON object")
    return body
