"""One's own people: the users one shares a direct conversation or a room with.

Past CHAT_PRESENCE_LIMIT users online, a greeting lists only one's own people and a
coming or going goes only to theirs. The rooms come from Memberships, which follows
the log. The direct conversations of each user connected here are read from the store
once, when the user's first connection here opens (with the greeting's reads), and then
kept up from the log: the log follower hands this process every direct message, in id
order, on every worker and host. The read starts after the user is registered here, so a
message stored meanwhile is in the read, or passes the follower after it, or both.
"""

import collections
import logging

from ..errors import StoreUnavailable
from ..protocol.names import name_key

log = logging.getLogger(__name__)


class People:
    """The direct partners of the users connected here, and who here counts whom as theirs."""

    def __init__(self, store, memberships):
        self.store = store
        self.memberships = memberships
        self._partners = {}  # key of a user here -> keys of their direct partners
        self._known_by = collections.defaultdict(set)  # partner key -> keys of users here who have them
        self._loading = {}  # key of a user here -> the store's answer, until it is merged

    def arrive(self, user):
        """`user`'s first connection here opened: start reading their direct partners."""
        key = name_key(user)
        self._partners.setdefault(key, set())
        loading = self._loading[key] = self.store.queue_partners(user)
        loading.rawlink(lambda _: self._merge(key, loading))

    def depart(self, user):
        """`user`'s last connection here closed: forget their partners."""
        key = name_key(user)
        self._loading.pop(key, None)
        for partner in self._partners.pop(key, ()):
            knowers = self._known_by.get(partner)
            if knowers is not None:
                knowers.discard(key)
                if not knowers:
                    del self._known_by[partner]

    def forget(self, user):
        """`user`'s account was erased: nobody's partner any more (a new account may take the name)."""
        key = name_key(user)
        for knower in self._known_by.pop(key, ()):
            self._partners.get(knower, set()).discard(key)
        self.depart(user)

    def note(self, record):
        """Follow one event of the log: a direct message makes its two users partners."""
        if record.room is not None or record.to_user is None or record.kind is not None:
            return
        sender, recipient = name_key(record.from_user), name_key(record.to_user)
        if sender != recipient:
            self._pair(sender, recipient)
            self._pair(recipient, sender)

    def own(self, user):
        """The keys of `user`'s own people (not `user`'s own), once their partners are read:
        an iterator, each key once, so that a greeting that needs a few of a big room's
        members looks at a few."""
        key = name_key(user)
        self._settle(key)
        seen = {key}
        for keys in (self._partners.get(key, ()), *self.memberships.rooms_members(key)):
            for other in list(keys):  # a copy: a room may change while Redis is asked between keys
                if other not in seen:
                    seen.add(other)
                    yield other

    def watchers(self, user):
        """The keys of the users connected here who count `user` among their own people."""
        key = name_key(user)
        keys = self.memberships.co_members(key)
        keys.update(self._known_by.get(key, ()))
        keys.discard(key)
        return keys

    def _pair(self, key, partner):
        partners = self._partners.get(key)
        if partners is not None and partner not in partners:
            partners.add(partner)
            self._known_by[partner].add(key)

    def _settle(self, key):
        """Wait for the store's answer for `key`, if it is still being read, and merge it."""
        loading = self._loading.get(key)
        if loading is not None:
            loading.wait()
            self._merge(key, loading)

    def _merge(self, key, loading):
        if self._loading.get(key) is not loading:
            return  # merged already, or the user left
        del self._loading[key]
        try:
            found = loading.get(block=False)
        except StoreUnavailable as exc:
            # Then the direct partners are missing from this user's greetings and presence
            # until they reconnect; the rooms still count.
            log.warning("the direct partners of a user could not be read: %s", exc)
            return
        for partner in found:
            self._pair(key, partner)
