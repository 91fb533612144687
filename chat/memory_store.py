"""An in-memory message store: the interim store until durable storage lands.

The interface (remember_user, display_name, add_message, last_id, backlog) is
the one a durable store implements too.
"""

import time

from .protocol import Message, name_key


class MemoryStore:
    """Users and messages in process memory; lost at restart."""

    def __init__(self):
        self._users = {}  # name key -> display spelling
        self._messages = []
        self._by_cid = {}  # (sender key, cid) -> Message

    def remember_user(self, name):
        """Record that `name` logged in; return its display spelling (the first one seen)."""
        return self._users.setdefault(name_key(name), name)

    def display_name(self, name):
        """The display spelling of a known user, or None for a name never seen."""
        return self._users.get(name_key(name))

    def add_message(self, from_user, to_user, msg, cid=None):
        """Store a message; return (message, created). A repeated cid returns the original."""
        dedupe_key = (name_key(from_user), cid) if cid is not None else None
        if dedupe_key in self._by_cid:
            return self._by_cid[dedupe_key], False
        record = Message(len(self._messages) + 1, from_user, to_user, msg, time.time())
        self._messages.append(record)
        if dedupe_key is not None:
            self._by_cid[dedupe_key] = record
        return record, True

    def last_id(self):
        """The newest stored id (0 when empty)."""
        return len(self._messages)

    def backlog(self, user, since, limit):
        """Messages visible to `user`: with `since`, those after it (newest `limit`,
        and whether more were cut); without, the last `limit`. Oldest first."""
        key = name_key(user)
        start = since if since is not None else 0
        visible = [m for m in self._messages[start:] if _visible_to(m, key)]
        return visible[-limit:], len(visible) > limit


def _visible_to(record, key):
    return (record.to_user is None or name_key(record.to_user) == key
            or name_key(record.from_user) == key)
