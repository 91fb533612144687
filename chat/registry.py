"""Who is connected to this process: each user's set of open connections."""

from .errors import TooManyConnections
from .protocol import name_key


class Registry:
    """Maps a user to the sockets they have open here (several tabs per user)."""

    def __init__(self, max_per_user):
        self.max_per_user = max_per_user
        self._sockets = {}  # name key -> set of sockets
        self._names = {}  # name key -> display name

    def add(self, user, ws):
        """Register `ws` for `user`; True when it is the user's first connection."""
        key = name_key(user)
        sockets = self._sockets.get(key)
        if sockets is None:
            self._sockets[key] = {ws}
            self._names[key] = user
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
        return True

    def online(self):
        """Display names of every user with a connection here, in the order they came."""
        # Not sorted: a greeting in a crowd would sort thousands of names per connection.
        return list(self._names.values())

    def count(self):
        """How many users have a connection here."""
        return len(self._names)

    def sockets_of(self, user):
        """A copy of `user`'s open sockets (empty when offline)."""
        return tuple(self._sockets.get(name_key(user), ()))

    def all_sockets(self):
        """A copy of every open socket, to iterate while others come and go."""
        return [ws for sockets in self._sockets.values() for ws in sockets]
