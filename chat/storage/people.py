"""Who is whose: the people one shares a direct conversation with, and accounts by name.

Both are reads of existing tables (messages, users); the rooms one shares come from the
delivery layer's copy of the members table (delivery/memberships.py). A direct
conversation exists once a message went either way; a note to oneself, and the stubs an
erased account left (their keys start with '#', never in a name), count for nobody.
"""

from ..protocol.names import MAX_NAME, name_key

# Above every character a name may hold (a noncharacter, never a letter or digit): the
# keys starting with a prefix p sort from p up to, not including, p + this.
_PAST_EVERY_NAME = "\U0010ffff"

# Direct messages of :me, each as (the other's key, the other's display name).
PARTNERS = """SELECT from_key, from_user FROM messages WHERE to_key = :me AND room_key IS NULL
    UNION SELECT to_key, to_user FROM messages WHERE from_key = :me AND to_key IS NOT NULL AND room_key IS NULL"""


class PeopleStore:
    """The people operations of Store (mixed into it)."""

    # The order of keys in comparisons: each database's byte order (PostgreSQL overrides it).
    _BYTES = ""

    def partners(self, user):
        """{key: display name} of everyone `user` exchanged a direct message with."""
        return self.queue_partners(user).get()

    def queue_partners(self, user):
        """partners(user) as an AsyncResult, read with the greetings' next batch of reads."""
        return self._greetings.submit(self._partners, name_key(user))

    def accounts_by_prefix(self, prefix, after, limit):
        """Display names of up to `limit` accounts whose name starts with `prefix` (in its
        case fold) and, given `after` (a name), sorts after it; in name-key order."""
        low, exclusive = name_key(prefix), False
        if after is not None and name_key(after) >= low:
            low, exclusive = name_key(after), True
        return self._timed_read(self._accounts_by_prefix, low, exclusive, name_key(prefix) + _PAST_EVERY_NAME, limit)

    @classmethod
    def _partners(cls, conn, me):
        rows = conn.execute(cls._sql(PARTNERS), {"me": me}).fetchall()
        return partner_map(rows, me)

    @classmethod
    def _accounts_by_prefix(cls, conn, low, exclusive, high, limit):  # pylint: disable=too-many-arguments
        above = ">" if exclusive else ">="
        sql = (f"SELECT name FROM users WHERE key{cls._BYTES} {above} :low AND key{cls._BYTES} < :high "
               f"ORDER BY key{cls._BYTES} LIMIT :n")
        return [name for name, in conn.execute(cls._sql(sql), {"low": low, "high": high, "n": limit}).fetchall()]


def partner_map(rows, me):
    """{key: display name} of `rows` of (key, name), but oneself and erased accounts."""
    return {key: name for key, name in rows if key != me and not key.startswith("#")}


def valid_prefix(raw):
    """True when `raw` can start a name: 1 to MAX_NAME characters."""
    return isinstance(raw, str) and 1 <= len(raw) <= MAX_NAME
