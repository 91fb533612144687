"""The JSON HTTP API: tokens, users, health, and JSON errors for every HTTP failure."""

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from . import auth, protocol

bp = Blueprint("api", __name__)


def services():
    """The running process's Services."""
    return current_app.extensions["chat"]


def json_error(status, code, detail):
    """A response with PROTOCOL.md's error body."""
    response = jsonify(error={"code": code, "detail": detail})
    response.status_code = status
    return response


def register_error_handlers(app):
    """Answer every HTTP error, and any crash, in JSON with no traceback."""

    @app.errorhandler(HTTPException)
    def http_error(exc):
        code = (exc.name or "error").lower().replace(" ", "_")
        return json_error(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def crash(exc):
        app.logger.exception("request failed: %s", exc)
        return json_error(500, "internal_error", "the server failed; the error is logged")


@bp.post("/api/token")
def issue_token():
    """Trade a name (names and open modes) for a signed token."""
    chat = services()
    if chat.settings.auth == "token":
        return json_error(403, "forbidden", "in token mode tokens come from the operator")
    body = request.get_json(silent=True)
    name = protocol.normalize_name(body.get("name")) if isinstance(body, dict) else None
    if name is None:
        return json_error(400, "bad_name", "name must be 1-32 letters, digits, '_', '-' or '.'")
    name = chat.store.remember_user(name)
    token, expires = chat.tokens.issue(name)
    return jsonify(token=token, user=name,
                   expires=datetime.fromtimestamp(expires, timezone.utc).isoformat().replace("+00:00", "Z"))


@bp.get("/api/messages")
def history():
    """`{"messages": [...]}`: the newest `limit` visible messages of one conversation
    with id < before, oldest first (`with=*`, the default, is the group)."""
    chat = services()
    user = auth.current_user(chat.tokens, chat.settings.auth)
    if user is None:
        return json_error(401, "unauthenticated", "log in first, or send Authorization: Bearer <token>")
    try:
        before = protocol.parse_whole(request.args.get("before"), 1, protocol.MAX_ID, protocol.MAX_ID)
        limit = protocol.parse_whole(request.args.get("limit"), 1, 200, 50)
    except ValueError as exc:
        return json_error(400, "bad_request", str(exc))
    other = request.args.get("with", "*")
    if other != "*":
        name = protocol.normalize_name(other)
        other = chat.store.display_name(name) if name else None
        if other is None:
            return json_error(404, "unknown_user", "nobody by that name has logged in")
    records = chat.store.history(user, None if other == "*" else other, before, limit)
    return jsonify(messages=[protocol.message(record) for record in records])


@bp.get("/api/users")
def online_users():
    """Who is online."""
    chat = services()
    if chat.settings.auth != "open" and auth.current_user(chat.tokens, chat.settings.auth) is None:
        return json_error(401, "unauthenticated", "log in first")
    return jsonify(online=chat.registry.online())


@bp.get("/healthz")
def health():
    """200 while this process can serve."""
    return jsonify(status="ok")
