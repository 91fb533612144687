"""Baseline: the chat of the Flask + gevent-websocket tutorials. A dict of sockets, no storage.

It speaks the frames of PROTOCOL.md that the benchmark uses (hello, presence, message with
the `cid` copy to the sender) the way tutorials write it: `json.dumps` per recipient, one
greenlet per connection, no queues, no limits. It keeps the chat server's crowd rule, so
that the benchmark compares the same work: while at most CHAT_PRESENCE_LIMIT (default
1,000) users are online, hello lists everyone and comings and goings go to everyone; past
it, hello lists the user and their direct partners online (at most the limit, with
"online_complete": false) and comings and goings go to those partners only.
Usage: python bench/tutorial_server.py PORT
"""

from gevent import monkey

monkey.patch_all()

# pylint: disable=wrong-import-position
import collections
import itertools
import json
import os
import sys
from datetime import datetime, timezone

from flask import Flask, request
from gevent.pywsgi import WSGIServer
from geventwebsocket.handler import WebSocketHandler

app = Flask(__name__)
sockets = {}  # name -> the user's websocket
partners = collections.defaultdict(set)  # name -> the names it exchanged a direct message with
ids = itertools.count(1)
PRESENCE_LIMIT = int(os.environ.get("CHAT_PRESENCE_LIMIT", "1000"))


def send(ws, frame):
    """Send one frame; a closed socket is the reader's business."""
    try:
        ws.send(json.dumps(frame))
    except Exception:  # pylint: disable=broad-except
        pass


def broadcast(frame, skip=None):
    """Every other socket gets the frame."""
    for other in list(sockets.values()):
        if other is not skip:
            send(other, frame)


def announce(name, online, skip=None):
    """A coming or going, to everyone else while the crowd is within the limit, else to the partners."""
    frame = {"type": "presence", "user": name, "online": online}
    if len(sockets) <= PRESENCE_LIMIT:
        broadcast(frame, skip=skip)
        return
    for other in list(partners[name]):
        if other in sockets:
            send(sockets[other], frame)


def hello(name):
    """Everyone online while the crowd is within the limit, else the user and their partners online."""
    if len(sockets) <= PRESENCE_LIMIT:
        return {"type": "hello", "user": name, "online": list(sockets), "last_id": 0}
    online = [name] + [other for other in partners[name] if other in sockets][:PRESENCE_LIMIT - 1]
    return {"type": "hello", "user": name, "online": online, "last_id": 0, "online_complete": False}


@app.route("/ws/<name>", websocket=True)
def chat(name):
    """One user's socket: greet, route what it sends, say goodbye."""
    ws = request.environ["wsgi.websocket"]
    sockets[name] = ws
    send(ws, hello(name))
    send(ws, {"type": "synced", "last_id": 0, "truncated": False})
    announce(name, True, skip=ws)
    while True:
        data = ws.receive()
        if data is None:
            break
        frame = json.loads(data)
        message = {"type": "message", "id": next(ids), "from_user": name, "to_user": frame.get("to_user") or None,
                   "msg": frame["msg"], "ts": datetime.now(timezone.utc).isoformat()}
        send(ws, dict(message, cid=frame.get("cid")))
        if message["to_user"] is None:
            broadcast(message, skip=ws)
        elif message["to_user"] != name:
            partners[name].add(message["to_user"])
            partners[message["to_user"]].add(name)
            if message["to_user"] in sockets:
                send(sockets[message["to_user"]], message)
    if sockets.get(name) is ws:
        del sockets[name]
    announce(name, False)
    return ""


if __name__ == "__main__":
    WSGIServer(("127.0.0.1", int(sys.argv[1])), app, handler_class=WebSocketHandler, log=None).serve_forever()
