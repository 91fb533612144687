"""Who is connected to this process: each user's set of open connections."""

import orjson

from ..errors import TooManyConnections
from ..protocol.names import name_key


class Registry:
    """Maps a user to the sockets they have open here (several tabs per user)."""

    def __init__(self, max_per_user):
        self.max_per_user = max_per_user
        self._sockets = {}  # name key -> set of sockets
        self._names = {}  # name key -> display name
        # The JSON array of _names' values, kept up as users come (a join appends)
        # and rebuilt on the next read after someone goes.
        self._online_json = bytearray(b"[]")

    def add(self, user, ws):
        """Register `ws` for `user`; True when it is the user's first connection."""
        key = name_key(user)
        sockets = self._sockets.get(key)
        if sockets is None:
            self._sockets[key] = {ws}
            self._names[key] = user
            if self._online_json is not None:
                del self._online_json[-1:]
                self._online_json += (b"," if len(self._online_json) > 1 else b"") + orjson.dumps(user) + b"]"
            return True
        if len(sockets) >= self.max_per_user:
            raise TooManyConnections(f"{user} already has {len(sockets)} connections")
        sockets.add(ws)
        return False

    def remove(self, user, ws):
        """Forget `ws`; True when it was the user's last connection."""
        key = name_key(user)
        sockets = self._sockets.get(key)
        if sockets is None or ws not in sockets:
            return False
        sockets.discard(ws)
        if sockets:
            return False
        del self._sockets[key]
        del self._names[key]
        self._online_json = None
        return True

    def online(self):
        """Display names of every user with a connection here, in the order they came."""
        # Not sorted: a greeting in a crowd would sort thousands of names per connection.
        return list(self._names.values())

    def online_json(self):
        """online() as a JSON array (bytes)."""
        if self._online_json is None:
            self._online_json = bytearray(orjson.dumps(self.online()))
        return bytes(self._online_json)

    def name_of(self, key):
        """The display name of the user whose name key is `key`, when they are connected here."""
        return self._names.get(key)

    def count(self):
        """How many users have a connection here."""
        return len(self._names)

    def sockets_of(self, user):
        """A copy of `user`'s open sockets (empty when offline)."""
        return tuple(self._sockets.get(name_key(user), ()))

    def sockets_among(self, keys):
        """Every open socket of the users whose name keys are in the set `keys`."""
        sockets = self._sockets
        if len(keys) > len(sockets):  # a big room: look through who is here instead
            return [ws for key, mine in sockets.items() if key in keys for ws in mine]
        return [ws for key in keys for ws in sockets.get(key, ())]

    def all_sockets(self):
        """A copy of every open socket, to iterate while others come and go."""
        return [ws for sockets in self._sockets.values() for ws in sockets]
