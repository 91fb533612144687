"""The rooms of the HTTP API: /api/rooms and what hangs under it (docs/api.md)."""

from flask import Blueprint, jsonify

from .helpers import json_body, json_error, logged_in

bp = Blueprint("rooms", __name__)


def room_json(room):
    """ROOM of the contract: the room as the caller sees it."""
    return {"name": room.name, "private": room.private, "topic": room.topic, "created_by": room.created_by,
            "members": room.members, "member": room.member}


def _answer(room):
    return jsonify(room=room_json(room))


@bp.post("/api/rooms")
@logged_in
def create_room(chat, user):
    """Create a room: 201 and its ROOM; the caller is its first member."""
    body = json_body()
    if not isinstance(body.get("private", False), bool):
        return json_error(400, "bad_request", "private must be true or false")
    room = chat.rooms.create(user, body.get("name"), body.get("private", False), body.get("topic", ""))
    return _answer(room), 201


@bp.get("/api/rooms")
@logged_in
def list_rooms(chat, user):
    """Every public room and every private room the caller is in, by name."""
    return jsonify(rooms=[room_json(room) for room in chat.rooms.visible(user)])


@bp.get("/api/rooms/<name>")
@logged_in
def get_room(chat, user, name):
    """One room; unknown_room for a private room the caller is not in."""
    return _answer(chat.rooms.get(user, name))


@bp.patch("/api/rooms/<name>")
@logged_in
def set_topic(chat, user, name):
    """Members set the topic."""
    body = json_body()
    return _answer(chat.rooms.set_topic(user, name, body.get("topic")))


@bp.post("/api/rooms/<name>/join")
@logged_in
def join_room(chat, user, name):
    """Join a public room (a member already: the same answer)."""
    return _answer(chat.rooms.join(user, name))


@bp.post("/api/rooms/<name>/leave")
@logged_in
def leave_room(chat, user, name):
    """Leave a room."""
    return _answer(chat.rooms.leave(user, name))


@bp.post("/api/rooms/<name>/members")
@logged_in
def add_member(chat, user, name):
    """A member adds a known user."""
    body = json_body()
    return _answer(chat.rooms.add(user, name, body.get("user")))


@bp.get("/api/rooms/<name>/members")
@logged_in
def room_members(chat, user, name):
    """The members, by name, each with whether they are online."""
    return jsonify(members=[{"user": member, "online": online} for member, online in chat.rooms.members(user, name)])
