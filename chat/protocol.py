"""The chat protocol as pure functions: names, client frames in, server frames out.

Nothing here touches a socket; the transport and the router call these.
"""

import functools
import time
import unicodedata
from typing import NamedTuple

import orjson

from .errors import FrameRejected

MAX_NAME = 32
MAX_CID = 64
MAX_ID = (1 << 63) - 1
_NAME_PUNCTUATION = frozenset("_-.")


def normalize_name(raw):
    """Return `raw` in NFC if it is a valid username, else None.

    A username is 1 to 32 Unicode letters, digits, '_', '-' or '.'.
    """
    if not isinstance(raw, str):
        return None
    # Every direct message names its recipient: answers for name-sized strings are kept.
    # Longer strings are checked afresh each time, so junk cannot make the cache big.
    return _normalize_name(raw) if len(raw) <= _CACHED_NAME else _check_name(raw)


def _check_name(raw):
    name = unicodedata.normalize("NFC", raw)
    if not 1 <= len(name) <= MAX_NAME:
        return None
    for ch in name:
        if ch not in _NAME_PUNCTUATION and not _is_letter_or_digit(ch):
            return None
    return name


_CACHED_NAME = 4 * MAX_NAME
_normalize_name = functools.lru_cache(maxsize=8192)(_check_name)


def _is_letter_or_digit(ch):
    category = unicodedata.category(ch)
    return category[0] == "L" or category == "Nd"


@functools.lru_cache(maxsize=8192)  # called several times for every message
def name_key(name):
    """The identity of a (normalized) name: names differing only in case are one user."""
    return unicodedata.normalize("NFC", name.casefold())


class Message(NamedTuple):
    """A stored message, as the store returns it."""

    id: int
    from_user: str
    to_user: str | None
    msg: str
    ts: float


def message(record, cid=None):
    """The `message` frame of a stored message; `cid` only on the sender's acknowledgement."""
    frame = {"type": "message", "id": record.id, "from_user": record.from_user,
             "to_user": record.to_user, "msg": record.msg, "ts": utc_timestamp(record.ts)}
    if cid is not None:
        frame["cid"] = cid
    return frame


class ClientMessage:
    """A validated client frame: a direct message when `to_user` is set, else group."""

    __slots__ = ("to_user", "msg", "cid")

    def __init__(self, to_user, msg, cid):
        self.to_user = to_user
        self.msg = msg
        self.cid = cid


def parse_client_frame(text, max_chars):
    """Parse and validate one client text frame; raise FrameRejected if it is refused."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameRejected("bad_json", "the frame is not valid JSON") from None
    return validate_message(data, max_chars)


def validate_message(data, max_chars):
    """Check a decoded message object (socket frame or HTTP body) and return a ClientMessage."""
    if not isinstance(data, dict):
        raise FrameRejected("bad_message", "a message must be a JSON object")
    cid = data.get("cid")
    if cid is not None and (not isinstance(cid, str) or len(cid) > MAX_CID):
        raise FrameRejected("bad_message", f"cid must be a string of at most {MAX_CID} characters")
    msg = data.get("msg")
    if not isinstance(msg, str) or not msg:
        raise FrameRejected("bad_message", "msg must be a non-empty string", cid)
    if len(msg) > max_chars:
        raise FrameRejected("too_long", f"msg has {len(msg)} characters, the limit is {max_chars}", cid)
    to_user = data.get("to_user")
    if to_user in (None, ""):
        return ClientMessage(None, msg, cid)
    if not isinstance(to_user, str):
        raise FrameRejected("bad_message", "to_user must be a string or null", cid)
    name = normalize_name(to_user)
    if name is None:
        raise FrameRejected("unknown_user", f"no user is called {to_user[:40]!r}", cid)
    return ClientMessage(name, msg, cid)


def parse_whole(raw, low, high, default=None):
    """`raw` (a query value) as an int in [low, high]; `default` when absent; else ValueError."""
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValueError(f"{raw[:30]!r} must be a whole number from {low} to {high}")
    return int(raw)


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


def hello(user, online_json, last_id):
    """The first frame of every connection, encoded; `online_json` is the JSON array of who is online.

    Built from bytes: in a crowd the list is long, and encoding it afresh for every
    greeting would cost more than the rest of the connection.
    """
    return b"".join((b'{"type":"hello","user":', orjson.dumps(user), b',"online":', online_json,
                     b',"last_id":', b"%d" % last_id, b"}"))


def synced(last_id, truncated):
    """Marks the end of a connection's backlog."""
    return {"type": "synced", "last_id": last_id, "truncated": truncated}


def presence(user, online):
    """A user's first connection opened (online) or last one closed."""
    return {"type": "presence", "user": user, "online": online}


def error(code, detail, cid=None):
    """A refused frame; the connection stays open."""
    frame = {"type": "error", "code": code, "detail": detail}
    if cid is not None:
        frame["cid"] = cid
    return frame
