"""GET /events/<username>: the chat's server frames as Server-Sent Events."""

from flask import Blueprint, Response, request

from ..accounts.handshake import check_opening
from ..accounts.sessions import current_session
from ..errors import TooManyConnections
from ..protocol.client_frames import MAX_ID, parse_whole
from ..transport.event_stream import EventStream
from .helpers import hold_connection, json_error, runtime

bp = Blueprint("events", __name__)


@bp.get("/events/<username>")
def event_stream(username):
    """The same checks as the socket, then hello, backlog, synced and live frames as events.

    `Last-Event-ID` (sent by EventSource when it reconnects) or `since=` resumes.
    """
    chat = runtime()
    name, refusal = check_opening(username, chat)
    if refusal:
        return json_error(*refusal)
    resume = request.headers.get("Last-Event-ID") or request.args.get("since")
    try:
        since = parse_whole(resume, 0, MAX_ID)
    except ValueError as exc:
        return json_error(400, "bad_since", f"Last-Event-ID or since: {exc}")
    held, refusal = hold_connection(chat)
    if refusal:
        return refusal
    settings = chat.settings
    stream = EventStream(request.environ.get("chat.socket"), settings.max_queue_bytes, settings.sse_heartbeat)
    try:
        chat.router.open(name, stream, since, held, current_session())
    except TooManyConnections as exc:
        stream.close()
        return json_error(429, "too_many_connections", str(exc))
    except BaseException:
        stream.close()  # registered perhaps: closing unregisters it
        raise
    return Response(stream.events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
