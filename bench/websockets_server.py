"""Baseline: the same frames on Python's `websockets` (asyncio), no storage.

Written the way its documentation suggests: one coroutine per connection and
`broadcast()`, which encodes once and never waits for a slow reader. It keeps the chat
server's crowd rule, so that the benchmark compares the same work: comings and goings are
pushed to everyone only while at most CHAT_PRESENCE_LIMIT (default 1,000) users are
online; hello lists everyone. Usage: python bench/websockets_server.py PORT
"""

import asyncio
import itertools
import json
import os
import sys
from datetime import datetime, timezone

from websockets import broadcast
from websockets.asyncio.server import serve

sockets = {}  # name -> the user's connection
ids = itertools.count(1)
PRESENCE_LIMIT = int(os.environ.get("CHAT_PRESENCE_LIMIT", "1000"))


def announce(name, online, skip=None):
    """A coming or going, to everyone else while the crowd is within the limit."""
    if len(sockets) <= PRESENCE_LIMIT:
        broadcast([s for s in sockets.values() if s is not skip],
                  json.dumps({"type": "presence", "user": name, "online": online}))


async def chat(ws):
    """One user's socket: greet, route what it sends, say goodbye."""
    name = ws.request.path.split("?")[0].rsplit("/", 1)[-1]
    sockets[name] = ws
    await ws.send(json.dumps({"type": "hello", "user": name, "online": list(sockets), "last_id": 0}))
    await ws.send(json.dumps({"type": "synced", "last_id": 0, "truncated": False}))
    announce(name, True, skip=ws)
    try:
        async for data in ws:
            frame = json.loads(data)
            message = {"type": "message", "id": next(ids), "from_user": name, "to_user": frame.get("to_user") or None,
                       "msg": frame["msg"], "ts": datetime.now(timezone.utc).isoformat()}
            broadcast([ws], json.dumps(dict(message, cid=frame.get("cid"))))
            if message["to_user"] is None:
                broadcast([s for s in sockets.values() if s is not ws], json.dumps(message))
            elif message["to_user"] in sockets and message["to_user"] != name:
                broadcast([sockets[message["to_user"]]], json.dumps(message))
    finally:
        if sockets.get(name) is ws:
            del sockets[name]
        announce(name, False)


async def main(port):
    """Serve until killed."""
    async with serve(chat, "127.0.0.1", port, max_size=1 << 20, ping_interval=None):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
