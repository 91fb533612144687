"""Read markers and the caller's conversations: POST /api/read, GET /api/conversations."""

from flask import Blueprint, jsonify

from ..protocol import client_frames
from .helpers import json_body, logged_in

bp = Blueprint("conversations", __name__)


@bp.post("/api/read")
@logged_in
def read(chat, user):
    """`{"with"}` or `{"room"}` and `"up_to"`: move the caller's marker there; 200 `{"up_to": <the marker now>}`."""
    marker = chat.router.read(user, client_frames.validate_read(json_body()))
    return jsonify(up_to=marker)


@bp.get("/api/conversations")
@logged_in
def conversations(chat, user):
    """`{"conversations": [...]}`: the group, the caller's direct conversations and rooms,
    newest activity first, each with its unread count and markers."""
    return jsonify(conversations=[_item(one) for one in chat.store.conversations(user)])


def _item(conversation):
    if conversation.room is not None:
        item = {"room": conversation.room}
    else:
        item = {"with": conversation.peer if conversation.peer is not None else "*"}
    item.update(last_id=conversation.last_id, read_up_to=conversation.read_up_to, unread=conversation.unread)
    if conversation.peer is not None:
        item["peer_read_up_to"] = conversation.peer_read_up_to
    return item
