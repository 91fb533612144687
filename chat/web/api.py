"""The JSON HTTP API: tokens, passwords, messages, the OpenAPI document (users: users.py)."""

from flask import Blueprint, jsonify, request

from ..accounts import sessions
from ..delivery.router import STORAGE_FAILED
from ..errors import StoreUnavailable
from ..protocol import client_frames, server_frames
from ..protocol.names import NAME_RULE, normalize_name
from . import openapi
from .helpers import body_text, json_body, json_error, logged_in, runtime, unauthenticated


bp = Blueprint("api", __name__)


@bp.post("/api/token")
def issue_token():
    """Trade a name and, for a claimed name, its password for a signed token."""
    chat = runtime()
    if chat.settings.auth == "token":
        return json_error(403, "forbidden", "in token mode tokens come from the operator")
    body = json_body()
    name = normalize_name(body.get("name"))
    if name is None:
        return json_error(400, "bad_name", f"name must be {NAME_RULE}")
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        return json_error(400, "bad_request", "password must be a string")
    user, sid = chat.accounts.log_in(name, password or None, request.remote_addr)
    return _token_response(chat, user, sid)


@bp.post("/api/password")
def set_password():
    """Claim the caller's name with `password`, or change it (`current_password`)."""
    chat = runtime()
    user, refusal = _account_holder(chat)
    if refusal:
        return refusal
    body = json_body()
    sid = chat.accounts.set_password(user, body.get("password"), body.get("current_password"))
    sessions.password_changed(chat, user, sid)
    return _token_response(chat, user, sid)


@bp.delete("/api/account")
def delete_account():
    """Erase the caller's account (`{"password"}` when it has one): see docs/api.md."""
    chat = runtime()
    user, refusal = _account_holder(chat)
    if refusal:
        return refusal
    body = json_body() if request.content_length else {}
    if not isinstance(body.get("password"), (str, type(None))):
        return json_error(400, "bad_request", "password must be a string")
    chat.accounts.delete(user, body.get("password"))
    sessions.end_session(chat)
    return jsonify(deleted=user)


def _account_holder(chat):
    """(the caller, None) for an operation on the caller's own account; (None, the refusal)."""
    if chat.settings.auth != "names":
        return None, json_error(403, "forbidden", "passwords and accounts are managed here only when CHAT_AUTH=names")
    user = sessions.current_user(chat)
    return (user, None) if user else (None, unauthenticated())


def _token_response(chat, user, sid):
    token, expires = chat.tokens.issue(user, sid)
    return jsonify(token=token, user=user, expires=server_frames.utc_timestamp(expires))



@bp.get("/api/messages")
@logged_in
def history(chat, user):
    """`{"messages": [...]}`: the newest `limit` messages of one conversation with id <
    before, oldest first: `room=`, or `with=` a user or `*` (the default, the group)."""
    try:
        before = client_frames.parse_whole(request.args.get("before"), 1, client_frames.MAX_ID, client_frames.MAX_ID)
        limit = client_frames.parse_whole(request.args.get("limit"), 1, client_frames.HISTORY_MAX,
                                          client_frames.HISTORY_DEFAULT)
    except ValueError as exc:
        return json_error(400, "bad_request", str(exc))
    room = request.args.get("room")
    if room is not None:
        if "with" in request.args:
            return json_error(400, "bad_request", "name one conversation: with= or room=, not both")
        records = chat.store.history(user, None, before, limit, chat.rooms.readable(user, room))
        return jsonify(messages=[server_frames.message(record) for record in records])
    other = request.args.get("with", "*")
    if other != "*":
        name = normalize_name(other)
        other = chat.store.display_name(name) if name else None
        if other is None:
            return json_error(404, "unknown_user", "nobody by that name has logged in")
    records = chat.store.history(user, None if other == "*" else other, before, limit)
    return jsonify(messages=[server_frames.message(record) for record in records])


@bp.post("/api/messages")
@logged_in
def post_message(chat, user):
    """Send `{"to_user"?, "room"?, "msg", "cid"?}` as the caller: 201 and the stored
    message (200 and the original for a cid already stored). JSON only, which keeps HTML
    forms on other sites from posting with the user's cookie."""
    if not request.is_json:
        return json_error(415, "unsupported_media_type", "send the message as Content-Type: application/json")
    message = client_frames.parse_client_frame(body_text(), chat.settings.max_message_chars)
    try:
        record, created = chat.router.accept(user, message, address=request.remote_addr)
    except StoreUnavailable:
        return json_error(503, "storage_failed", STORAGE_FAILED)
    return jsonify(server_frames.message(record, message.cid)), 201 if created else 200


@bp.patch("/api/messages/<int:message_id>")
@logged_in
def edit_message(chat, user, message_id):
    """`{"msg", "cid"?}`: the caller edits their message; 200 and the stored edit event."""
    return _change(chat, user, "edit", {**json_body(), "id": message_id})


@bp.delete("/api/messages/<int:message_id>")
@logged_in
def delete_message(chat, user, message_id):
    """`{"cid"?}` or no body: the caller deletes their message; 200 and the stored delete event."""
    return _change(chat, user, "delete", {**(json_body() if request.content_length else {}), "id": message_id})


def _change(chat, user, kind, body):
    change = client_frames.validate_change(body, chat.settings.max_message_chars, kind)
    try:
        record, _ = chat.router.accept(user, change, address=request.remote_addr)
    except StoreUnavailable:
        return json_error(503, "storage_failed", STORAGE_FAILED)
    return jsonify(server_frames.event(record, change.cid))


@bp.post("/api/typing")
@logged_in
def typing(chat, user):
    """`{"with"}` or `{"room"}`: the caller is typing there; 204, relayed to the others."""
    chat.router.typing_in(user, client_frames.validate_typing(json_body()).conversation)
    return "", 204


@bp.get("/api/openapi.json")
def openapi_document():
    """The OpenAPI document of this API."""
    return jsonify(openapi.DOCUMENT)
