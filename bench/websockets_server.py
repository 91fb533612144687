"""Baseline: the same frames on Python's `websockets` (asyncio), no storage.

Written the way its documentation suggests: one coroutine per connection and
`broadcast()`, which encodes once and never waits for a slow reader. It keeps the chat
server's crowd rule, so that the benchmark compares the same work: while at most
CHAT_PRESENCE_LIMIT (default 1,000) users are online, hello lists everyone and comings
and goings go to everyone; past it, hello lists the user and their own people online
(direct partners and room co-members, at most the limit, with "online_complete": false)
and comings and goings go to their own people only. Rooms, for the benchmark's room run, at their smallest: a
connection names its rooms when it opens (/ws/<name>?rooms=a,b), and a frame with a
`room` goes to that room's other members, the sender's copy with its `cid` as ever.
Usage: python bench/websockets_server.py PORT
"""

import asyncio
import collections
import itertools
import json
import os
import sys
from datetime import datetime, timezone
from urllib.parse import parse_qs

from websockets import broadcast
from websockets.asyncio.server import serve

sockets = {}  # name -> the user's connection
rooms = collections.defaultdict(set)  # room -> its members' connections
partners = collections.defaultdict(set)  # name -> the names it exchanged a direct message with
names = {}  # connection -> its user's name
ids = itertools.count(1)
PRESENCE_LIMIT = int(os.environ.get("CHAT_PRESENCE_LIMIT", "1000"))


def own_people(name, mine):
    """The names online that share a direct conversation or one of the rooms `mine` with `name`."""
    people = {names[s] for room in mine for s in rooms[room] if s in names}
    people.update(other for other in partners[name] if other in sockets)
    people.discard(name)
    return people


def announce(name, online, mine, skip=None):
    """A coming or going, to everyone else while the crowd is within the limit, else to the user's own people."""
    frame = json.dumps({"type": "presence", "user": name, "online": online})
    if len(sockets) <= PRESENCE_LIMIT:
        broadcast([s for s in sockets.values() if s is not skip], frame)
    else:
        broadcast([sockets[other] for other in own_people(name, mine) if other in sockets], frame)


def hello(name, mine):
    """Everyone online while the crowd is within the limit, else the user and their own people online."""
    if len(sockets) <= PRESENCE_LIMIT:
        return {"type": "hello", "user": name, "online": list(sockets), "last_id": 0}
    online = [name, *sorted(own_people(name, mine))[:PRESENCE_LIMIT - 1]]
    return {"type": "hello", "user": name, "online": online, "last_id": 0, "online_complete": False}


async def chat(ws):
    """One user's socket: greet, route what it sends, say goodbye."""
    path, _, query = ws.request.path.partition("?")
    name = path.rsplit("/", 1)[-1]
    mine = [room for room in parse_qs(query).get("rooms", [""])[0].split(",") if room]
    sockets[name] = ws
    names[ws] = name
    for room in mine:
        rooms[room].add(ws)
    await ws.send(json.dumps(hello(name, mine)))
    await ws.send(json.dumps({"type": "synced", "last_id": 0, "truncated": False}))
    announce(name, True, mine, skip=ws)
    try:
        async for data in ws:
            frame = json.loads(data)
            room = frame.get("room")
            if room is not None and ws not in rooms.get(room, ()):
                broadcast([ws], json.dumps({"type": "error", "code": "not_member", "cid": frame.get("cid")}))
                continue
            message = {"type": "message", "id": next(ids), "from_user": name, "to_user": frame.get("to_user") or None,
                       "msg": frame["msg"], "ts": datetime.now(timezone.utc).isoformat()}
            if room is not None:
                message["room"] = room
            broadcast([ws], json.dumps(dict(message, cid=frame.get("cid"))))
            if room is not None:
                broadcast([s for s in rooms[room] if s is not ws], json.dumps(message))
            elif message["to_user"] is None:
                broadcast([s for s in sockets.values() if s is not ws], json.dumps(message))
            elif message["to_user"] != name:
                partners[name].add(message["to_user"])
                partners[message["to_user"]].add(name)
                if message["to_user"] in sockets:
                    broadcast([sockets[message["to_user"]]], json.dumps(message))
    finally:
        for room in mine:
            rooms[room].discard(ws)
        names.pop(ws, None)
        if sockets.get(name) is ws:
            del sockets[name]
        announce(name, False, mine)


async def main(port):
    """Serve until killed."""
    async with serve(chat, "127.0.0.1", port, max_size=1 << 20, ping_interval=None):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
