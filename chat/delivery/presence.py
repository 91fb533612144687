"""Who is online: in this process, or across every worker and host through Redis.

Both kinds answer `join(user)` (True: the user's first connection anywhere),
`leave(user)` (True: their last one anywhere), `online()` (display names),
`online_json()` (the same as a JSON array), `online_among(keys, limit)` (the
display names of the online users among those name keys) and `count()` (how many
users are online), and call the callback given to `watch` with each user whose process died
(`unwatch` stops that).
"""

import contextlib
import itertools
import logging
import os

import gevent
import gevent.event
import gevent.lock
import orjson
import redis

from ..background import Background
from ..protocol.names import name_key

log = logging.getLogger(__name__)

TTL = 15  # seconds without a heartbeat before a process counts as dead
AMONG_PER_CALL = 1000  # keys per call of the online_among script: one call holds Redis for a while
BEAT = 5  # heartbeat and reaping interval: a dead process's users go offline within TTL + BEAT

# Keys: chat:nodes (sorted set: process -> last heartbeat, Redis's clock) and
# chat:node:<process> (set: the users connected there). Scripts run atomically,
# so two processes joining the same user at once cannot both see "first".
_NOW = f"""
local now = tonumber(redis.call('TIME')[1])
local alive_since = now - {TTL}
"""
_LIVE = _NOW + """
local function elsewhere(user, me)
  for _, n in ipairs(redis.call('ZRANGEBYSCORE', 'chat:nodes', alive_since, '+inf')) do
    if n ~= me and redis.call('SISMEMBER', 'chat:node:' .. n, user) == 1 then return true end
  end
  return false
end
"""
_JOIN = _LIVE + """
redis.call('ZADD', 'chat:nodes', now, ARGV[1])
redis.call('SADD', 'chat:node:' .. ARGV[1], ARGV[2])
redis.call('HSET', 'chat:names', ARGV[3], ARGV[2])
if elsewhere(ARGV[2], ARGV[1]) then return 0 end
return 1
"""
_LEAVE = _LIVE + """
redis.call('SREM', 'chat:node:' .. ARGV[1], ARGV[2])
if elsewhere(ARGV[2], ARGV[1]) then return 0 end
return 1
"""
_ONLINE = _NOW + """
local seen, names = {}, {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', 'chat:nodes', alive_since, '+inf')) do
  for _, user in ipairs(redis.call('SMEMBERS', 'chat:node:' .. n)) do
    if not seen[user] then seen[user] = true; table.insert(names, user) end
  end
end
return names
"""
# chat:names (hash: name key -> display name, set at each join) lets a process ask by key.
_AMONG = _NOW + """
local nodes = redis.call('ZRANGEBYSCORE', 'chat:nodes', alive_since, '+inf')
local names = {}
for i = 2, #ARGV do
  local name = redis.call('HGET', 'chat:names', ARGV[i])
  if name then
    for _, n in ipairs(nodes) do
      if redis.call('SISMEMBER', 'chat:node:' .. n, name) == 1 then table.insert(names, name); break end
    end
    if #names >= tonumber(ARGV[1]) then break end
  end
end
return names
"""
_BEAT = _NOW + """
redis.call('ZADD', 'chat:nodes', now, ARGV[1])
for i = 2, #ARGV do redis.call('SADD', 'chat:node:' .. ARGV[1], ARGV[i]) end
local sets = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', 'chat:nodes', alive_since, '+inf')) do
  table.insert(sets, 'chat:node:' .. n)
end
return #redis.call('SUNION', unpack(sets))
"""
_REAP = _LIVE + """
local gone = {}
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', 'chat:nodes', '-inf', '(' .. alive_since)) do
  for _, user in ipairs(redis.call('SMEMBERS', 'chat:node:' .. dead)) do
    if not elsewhere(user, dead) then table.insert(gone, user) end
  end
  redis.call('DEL', 'chat:node:' .. dead)
  redis.call('ZREM', 'chat:nodes', dead)
end
return gone
"""


def _among_here(registry, keys, limit):
    names = []
    for key in keys:
        if len(names) >= limit:
            break
        name = registry.name_of(key)
        if name is not None:
            names.append(name)
    return names


class LocalPresence:
    """One process: its registry is the whole truth."""

    def __init__(self, registry):
        self.registry = registry

    def join(self, user):  # pylint: disable=unused-argument
        """The registry already found this to be the user's first connection."""
        return True

    def leave(self, user):  # pylint: disable=unused-argument
        """The registry already found this to be the user's last connection."""
        return True

    def online(self):
        """Everyone connected here."""
        return self.registry.online()

    def online_json(self):
        """Everyone connected here, as a JSON array."""
        return self.registry.online_json()

    def online_among(self, keys, limit):
        """The display names of up to `limit` users connected here among the name `keys`."""
        return _among_here(self.registry, keys, limit)

    def count(self):
        """How many users are connected here."""
        return self.registry.count()

    def watch(self, gone):
        """Nobody can die without this process noticing: nothing to watch."""

    def unwatch(self):
        """Nothing was watched."""


class RedisPresence:
    """Every process's users in Redis, kept alive by a heartbeat; dead processes are reaped."""

    def __init__(self, client, registry):
        self.registry = registry
        self.node = f"{os.uname().nodename}:{os.getpid()}:{os.urandom(4).hex()}"
        self._join, self._leave = client.register_script(_JOIN), client.register_script(_LEAVE)
        self._online, self._beat = client.register_script(_ONLINE), client.register_script(_BEAT)
        self._reap, self._among = client.register_script(_REAP), client.register_script(_AMONG)
        self._gone = None
        self._beating = Background(self._run)
        self._count = 0
        # Clear while a heartbeat's snapshot of this process's users is on its way to Redis:
        # a leave sent then could reach Redis first and be undone by the beat for good.
        self._beat_landed = gevent.event.Event()
        self._beat_landed.set()
        self._turns = {}  # user -> [lock, callers]: see _turn

    def join(self, user):
        """Add `user` here; True when no other live process has them."""
        with self._turn(user):
            return self._ask(self._join, False, self.node, user, name_key(user)) == 1

    def leave(self, user):
        """Remove `user` here; True when no other live process has them."""
        with self._turn(user):
            self._beat_landed.wait(BEAT)  # bounded: a Redis that hangs the beat must not hang every leave
            return self._ask(self._leave, False, self.node, user) == 1

    @contextlib.contextmanager
    def _turn(self, user):
        # One join or leave of a user at a time, in the order they were called: a reload's
        # join overtaking its leave (which may wait for a beat) would end with the user
        # connected here but gone from Redis, and announced as gone, until the next beat.
        turn = self._turns.setdefault(user, [gevent.lock.Semaphore(), 0])
        turn[1] += 1
        try:
            with turn[0]:
                yield
        finally:
            turn[1] -= 1
            if not turn[1]:
                del self._turns[user]

    def online(self):
        """Everyone connected to a live process; this process's own users when Redis is down."""
        names = self._ask(self._online, None)
        if names is None:
            return self.registry.online()
        return [name.decode() for name in names]

    def online_json(self):
        """online() as a JSON array."""
        return orjson.dumps(self.online())

    def online_among(self, keys, limit):
        """The display names of up to `limit` users online anywhere among the name `keys`
        (asked AMONG_PER_CALL at a time); those here alone when Redis is down."""
        keys, names = iter(keys), []
        while len(names) < limit:
            chunk = list(itertools.islice(keys, AMONG_PER_CALL))
            if not chunk:
                break
            found = self._ask(self._among, None, limit - len(names), *chunk)
            if found is None:
                return names + _among_here(self.registry, itertools.chain(chunk, keys), limit - len(names))
            names += [name.decode() for name in found]
        return names

    def count(self):
        """Users online everywhere as of the last heartbeat (at least those here)."""
        return max(self._count, self.registry.count())

    def watch(self, gone):
        """Heartbeat, and call `gone(user)` for each user of a process that stopped beating."""
        self._gone = gone
        self._beating.start()

    def unwatch(self):
        """Stop the heartbeat (this process's users then go offline for the others within TTL)."""
        self._beating.stop()

    def _run(self):
        while True:
            self.heartbeat()
            gevent.sleep(BEAT)

    def heartbeat(self):
        """Tell Redis this process lives and who is connected here (restoring any join that
        Redis missed), and call `gone` for the users of the processes that stopped beating."""
        self._beat_landed.clear()
        try:
            self._count = self._ask(self._beat, self._count, self.node, *self.registry.online())
        finally:
            self._beat_landed.set()
        for user in set(self._ask(self._reap, None) or ()):
            self._gone(user.decode())

    def _ask(self, script, fallback, *args):
        # Redis down: answer `fallback`. The broker resumes every socket when Redis is back,
        # and the reconnections rebuild what was missed here.
        try:
            return script(args=args)
        except redis.RedisError as exc:
            log.warning("presence not shared: %s", exc)
            return fallback
