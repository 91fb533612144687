"""What the server sends: every server frame of the protocol, built from stored records.

Pure functions: nothing here touches a socket.
"""

import functools
import time
from typing import NamedTuple

import orjson


MEMBER = "member"  # the `kind` of a member event; a message has none
EDIT, DELETE = "edit", "delete"  # the kinds of the events that change a message


class Message(NamedTuple):
    """A stored event, as the store returns it: a message, or a member event of a room
    (kind "member": `from_user` did it, `to_user` joined or left, `msg` is "join" or "leave"),
    or an edit or delete of message `of` (kind "edit" or "delete"). A message's `edited` is
    the time of its last edit."""

    id: int
    from_user: str
    to_user: str | None
    msg: str
    ts: float
    room: str | None = None
    kind: str | None = None
    of: int | None = None
    edited: float | None = None


def event(record, cid=None):
    """The frame of a stored event: `message`, or `member` for a room's member event."""
    if record.kind == MEMBER:
        return member(record)
    if record.kind in (EDIT, DELETE):
        return change(record, cid)
    return message(record, cid)


def change(record, cid=None):
    """The `edit` or `delete` frame of message `record.of`; an edit's with the text it set."""
    frame = {"type": record.kind, "id": record.id, "of": record.of, "from_user": record.from_user,
             "to_user": record.to_user, "ts": utc_timestamp(record.ts)}
    if record.room is not None:
        frame["room"] = record.room
    if record.kind == EDIT:
        frame["msg"] = record.msg
    if cid is not None:
        frame["cid"] = cid
    return frame


def member(record):
    """The `member` frame of a member event: `user` joined or left `room`, `by` someone."""
    return {"type": "member", "id": record.id, "room": record.room, "user": record.to_user,
            "joined": record.msg == "join", "by": record.from_user, "ts": utc_timestamp(record.ts)}


def message(record, cid=None):
    """The `message` frame of a stored message; `cid` only on the sender's acknowledgement."""
    frame = {"type": "message", "id": record.id, "from_user": record.from_user,
             "to_user": record.to_user, "msg": record.msg, "ts": utc_timestamp(record.ts)}
    if record.room is not None:
        frame["room"] = record.room
    if not record.msg:  # a live message is never empty: this one was deleted
        frame["deleted"] = True
    elif record.edited is not None:
        frame["edited"] = utc_timestamp(record.edited)
    if cid is not None:
        frame["cid"] = cid
    return frame


def utc_timestamp(seconds):
    """ISO 8601 UTC with milliseconds, as in "2026-11-21T05:30:00.123Z"."""
    whole = int(seconds)
    micro = round((seconds - whole) * 1_000_000)  # rounded as datetime.fromtimestamp rounds
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    return "%s.%03dZ" % (_utc_second(whole), micro // 1000)


@functools.lru_cache(maxsize=64)  # messages come many to the second
def _utc_second(whole):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


def acknowledgement(encoded, cid):
    """The sender's copy of an encoded `message` frame: the same with its `cid` added."""
    return b"".join((encoded[:-1], b',"cid":', orjson.dumps(cid), b"}"))


# encode(frame): a server frame (a dict) serialized to UTF-8 JSON bytes.
encode = orjson.dumps


def hello(user, online_json, last_id, complete=True):
    """The first frame of every connection, encoded; `online_json` is the JSON array of who is
    online, or with `complete` False of the user's own people online (a crowd: see greeting.py).

    Built from bytes: in a crowd the list is long, and encoding it afresh for every
    greeting would cost more than the rest of the connection.
    """
    return b"".join((b'{"type":"hello","user":', orjson.dumps(user), b',"online":', online_json,
                     b',"last_id":', b"%d" % last_id, b"}" if complete else b',"online_complete":false}'))


def synced(last_id, truncated):
    """Marks the end of a connection's backlog."""
    return {"type": "synced", "last_id": last_id, "truncated": truncated}


def read(user, up_to, with_user=None, room=None):
    """`user`'s read marker in `room`, else in the direct conversation with `with_user`
    ("*": the group), is now `up_to`. No id: it is not in the log."""
    frame = {"type": "read", "user": user}
    if room is not None:
        frame["room"] = room
    else:
        frame["with"] = with_user
    frame["up_to"] = up_to
    return frame


def presence(user, online):
    """A user's first connection opened (online) or last one closed."""
    return {"type": "presence", "user": user, "online": online}


def error(code, detail, cid=None):
    """A refused frame; the connection stays open."""
    frame = {"type": "error", "code": code, "detail": detail}
    if cid is not None:
        frame["cid"] = cid
    return frame
