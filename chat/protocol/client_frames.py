"""What clients send: a text frame (or an HTTP body) checked and turned into a ClientMessage.

Pure functions: nothing here touches a socket.
"""

from typing import NamedTuple

import orjson

from ..errors import FrameRejected
from .names import normalize_name
from .unicode_security import is_blank

MAX_CID = 64
MAX_ID = (1 << 63) - 1
HISTORY_DEFAULT = 50  # GET /api/messages: how many, unless `limit` says
HISTORY_MAX = 200  # and the most `limit` may ask


class ClientMessage:
    """A validated client message: to the room `room`, or direct when `to_user` is set, else group."""

    __slots__ = ("to_user", "msg", "cid", "room")

    def __init__(self, to_user, msg, cid, room=None):
        self.to_user = to_user
        self.msg = msg
        self.cid = cid
        self.room = room


def parse_json(text):
    """Decode the JSON of a frame or a request body; raise FrameRejected("bad_json") if it is not.

    The one parser for sockets and HTTP alike: orjson refuses nesting deeper than 1,024
    and numbers beyond 64 bits, so no input can exhaust the stack (the standard library's
    parser recurses until RecursionError).
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameRejected("bad_json", "not valid JSON (or nested deeper than 1,024)") from None


def parse_client_frame(text, max_chars):
    """Parse and validate one client text frame (a ClientMessage or a ClientTyping);
    raise FrameRejected if it is refused."""
    data = parse_json(text)
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "typing":
        return validate_typing(data)
    if kind == "read":
        return validate_read(data)
    if kind in ("edit", "delete"):
        return validate_change(data, max_chars, kind)
    return validate_message(data, max_chars)


class ClientChange:
    """A validated edit (with its new `msg`) or delete of the message `of`. It names no
    recipient (to_user, room: None): it goes where the message went."""

    __slots__ = ("kind", "of", "msg", "cid")
    to_user = room = None

    def __init__(self, kind, of, msg, cid):
        self.kind, self.of, self.msg, self.cid = kind, of, msg, cid


def validate_change(data, max_chars, kind):
    """Check a decoded edit or delete (a frame, or the body of PATCH and DELETE /api/messages/<id>)."""
    cid = _cid(data)
    of = data.get("id")
    if not isinstance(of, int) or isinstance(of, bool) or not 1 <= of <= MAX_ID:
        raise FrameRejected("bad_message", "id must be the id of a message", cid)
    return ClientChange(kind, of, _text(data, max_chars, cid) if kind == "edit" else None, cid)


class Conversation(NamedTuple):
    """Which conversation a frame names: `room`, else `with_user` (a name, or "*" for the group)."""

    with_user: str | None
    room: str | None


GROUP = Conversation("*", None)


class ClientTyping(NamedTuple):
    """A validated typing frame: its sender is typing in `conversation`."""

    conversation: Conversation


def validate_typing(data):
    """Check a decoded typing object (a frame, or the body of POST /api/typing)."""
    if not isinstance(data, dict):
        raise FrameRejected("bad_message", "a typing notice must be a JSON object")
    return ClientTyping(conversation_of(data))


class ClientRead(NamedTuple):
    """A validated read frame: its sender has read `conversation` up to the id `up_to`."""

    conversation: Conversation
    up_to: int


def validate_read(data):
    """Check a decoded read object (a frame, or the body of POST /api/read)."""
    if not isinstance(data, dict):
        raise FrameRejected("bad_message", "a read marker must be a JSON object")
    if data.get("type", "read") != "read":
        raise FrameRejected("bad_message", 'type must be "read" (or absent)')
    conversation = conversation_of(data)
    up_to = data.get("up_to")
    if not isinstance(up_to, int) or isinstance(up_to, bool) or not 0 <= up_to <= MAX_ID:
        raise FrameRejected("bad_message", "up_to must be the id of the newest event read (a whole number)")
    return ClientRead(conversation, up_to)


def conversation_of(data, cid=None):
    """The Conversation a frame names with exactly one of "with" (a user or "*") and "room"."""
    with_user, room = data.get("with"), data.get("room")
    if (with_user is None) == (room is None):
        raise FrameRejected("bad_message", 'name one conversation: "with" (a user, or "*") or "room"', cid)
    if room is not None:
        if not isinstance(room, str):
            raise FrameRejected("bad_message", "room must be a string", cid)
        return Conversation(None, _room_name(room, cid))
    if not isinstance(with_user, str):
        raise FrameRejected("bad_message", 'with must be a username or "*"', cid)
    if with_user == "*":
        return GROUP
    name = normalize_name(with_user)
    if name is None:
        raise FrameRejected("unknown_user", f"no user is called {with_user[:40]!r}", cid)
    return Conversation(name, None)


def validate_message(data, max_chars):
    """Check a decoded message object (socket frame or HTTP body) and return a ClientMessage."""
    if not isinstance(data, dict):
        raise FrameRejected("bad_message", "a message must be a JSON object")
    cid = _cid(data)
    if data.get("type", "message") != "message":
        raise FrameRejected("bad_message", 'type must be absent or one of "message", "typing", "edit", "delete"', cid)
    msg = _text(data, max_chars, cid)
    to_user, room = data.get("to_user"), data.get("room")
    if room is not None:
        if to_user not in (None, ""):
            raise FrameRejected("bad_message", "a message goes to a room or to a user, not both", cid)
        return ClientMessage(None, msg, cid, _room_name(room, cid))
    if to_user in (None, ""):
        return ClientMessage(None, msg, cid)
    if not isinstance(to_user, str):
        raise FrameRejected("bad_message", "to_user must be a string or null", cid)
    name = normalize_name(to_user)
    if name is None:
        raise FrameRejected("unknown_user", f"no user is called {to_user[:40]!r}", cid)
    return ClientMessage(name, msg, cid)


def _cid(data):
    cid = data.get("cid")
    if cid is not None and (not isinstance(cid, str) or len(cid) > MAX_CID):
        raise FrameRejected("bad_message", f"cid must be a string of at most {MAX_CID} characters")
    return cid


def _text(data, max_chars, cid):
    """The `msg` of a message or an edit: 1 to max_chars characters, something visible."""
    msg = data.get("msg")
    if not isinstance(msg, str) or not msg:
        raise FrameRejected("bad_message", "msg must be a non-empty string", cid)
    if len(msg) > max_chars:
        raise FrameRejected("too_long", f"msg has {len(msg)} characters, the limit is {max_chars}", cid)
    if is_blank(msg):
        raise FrameRejected("bad_message", "msg has no visible character", cid)
    return msg


def _room_name(raw, cid):
    if not isinstance(raw, str):
        raise FrameRejected("bad_message", "room must be a string", cid)
    name = normalize_name(raw)
    if name is None:
        raise FrameRejected("unknown_room", f"there is no room called {raw[:40]!r}", cid)
    return name


def parse_whole(raw, low, high, default=None):
    """`raw` (a query value) as an int in [low, high]; `default` when absent; else ValueError."""
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValueError(f"{raw[:30]!r} must be a whole number from {low} to {high}")
    return int(raw)
