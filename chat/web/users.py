"""GET /api/users: who is online (everyone, or a page of them by name) and accounts by name prefix.

Past CHAT_PRESENCE_LIMIT users online, hello lists only one's own people: this is where
a client finds the others, a page at a time (`limit`, `after`), or by the start of a
name (`q`, online or not, each with its online flag).
"""

import bisect

from flask import Blueprint, jsonify, request

from ..accounts import sessions
from ..protocol import client_frames
from ..protocol.names import MAX_NAME, name_key
from ..storage.people import valid_prefix
from .helpers import json_error, runtime, unauthenticated

bp = Blueprint("users", __name__)

PAGE_DEFAULT = 100  # names of a page of who is online, unless `limit` says
SEARCH_DEFAULT = 20  # accounts found by `q`, unless `limit` says
LIMIT_MAX = 1000  # the most `limit` may ask, of either
NAME_WANTED = f"must be 1 to {MAX_NAME} characters (the start of a name, or a name)"


@bp.get("/api/users")
def users():
    """`{"online": [...]}` (everyone, by name); with `limit` or `after` a page of them and
    `next`; with `q` the accounts whose name starts so, `{"users": [{"user", "online"}], "next"}`."""
    chat = runtime()
    if chat.settings.auth != "open" and sessions.current_user(chat) is None:
        return unauthenticated()
    args = request.args
    for field in ("q", "after"):
        if field in args and not valid_prefix(args[field]):
            return json_error(400, "bad_request", f"{field} {NAME_WANTED}")
    try:
        limit = client_frames.parse_whole(args.get("limit"), 1, LIMIT_MAX,
                                          SEARCH_DEFAULT if "q" in args else PAGE_DEFAULT)
    except ValueError as exc:
        return json_error(400, "bad_request", f"limit: {exc}")
    if "q" in args:
        return _search(chat, args["q"], args.get("after"), limit)
    names = sorted(chat.router.online(), key=name_key)
    if "limit" not in args and "after" not in args:
        return jsonify(online=names)  # v1: everyone
    return jsonify(_page(names, args.get("after"), limit, lambda name: name))


def _search(chat, prefix, after, limit):
    found = chat.store.accounts_by_prefix(prefix, after, limit + 1)  # one more tells whether there is a next page
    online = set(chat.router.presence.online_among([name_key(name) for name in found], len(found)))
    answer = _page(found, None, limit, lambda name: {"user": name, "online": name in online})
    return jsonify(users=answer.pop("online"), next=answer["next"])


def _page(names, after, limit, item):
    """{"online": the `limit` names of the sorted `names` after `after`, as `item`s; "next":
    the `after` of the next page, or None when this one is the last}."""
    start = bisect.bisect_right(names, name_key(after), key=name_key) if after is not None else 0
    chosen = names[start:start + limit]
    more = start + limit < len(names)
    return {"online": [item(name) for name in chosen], "next": chosen[-1] if more and chosen else None}
