"""The WebSocket endpoints: /ws/<username> (chat) and /echo (conformance only)."""

from flask import Blueprint, Response, abort, request

from ..accounts.handshake import check_opening, origin_allowed
from ..accounts.sessions import current_session
from ..protocol.client_frames import MAX_ID, parse_whole
from .helpers import hold_connection, json_error, runtime

bp = Blueprint("sockets", __name__)


def _upgrade():
    ws = request.environ.get("wsgi.websocket")
    if ws is None:
        abort(400, "this endpoint speaks WebSocket only")
    return ws


def _accept(ws, settings, keepalive):
    ws.accept(settings.max_frame_bytes, settings.max_queue_bytes, keepalive)


@bp.route("/ws/<username>", websocket=True)
def chat_socket(username):
    """Check name, origin, identity and `since`; then serve the chat protocol."""
    ws = _upgrade()
    chat = runtime()
    name, refusal = check_opening(username, chat)
    if refusal:
        return json_error(*refusal)
    try:
        since = parse_whole(request.args.get("since"), 0, MAX_ID)
    except ValueError as exc:
        return json_error(400, "bad_since", f"since: {exc}")
    held, refusal = hold_connection(chat)
    if refusal:
        return refusal
    try:
        _accept(ws, chat.settings, chat.keepalive)
    except BaseException:
        held.release()
        raise
    chat.router.serve(name, ws, since, held, current_session())
    return Response(status=204)


@bp.route("/echo", websocket=True)
def echo_socket():
    """Echo every message back, through the same transport (CHAT_ECHO_ENDPOINT=1)."""
    ws = _upgrade()
    chat = runtime()
    if not chat.settings.echo_endpoint:
        abort(404)
    if not origin_allowed(request.environ, chat.settings.allowed_origins):
        return json_error(403, "bad_origin", "this Origin may not open sockets here")
    _accept(ws, chat.settings, chat.keepalive)
    while (message := ws.receive()) is not None:
        ws.echo(message)
    return Response(status=204)
