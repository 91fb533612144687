"""Talking to the server: JSON over HTTP, and server frames from a WebSocket or an event stream."""

import http.client
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websocket

from .errors import ClientError
from .lines import format_event

BACKOFF_MAX = 10.0


def http_json(config, method, path, body=None):
    """One JSON request to the server; returns the parsed answer or raises ClientError."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(config["server"] + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if config.get("token"):
        request.add_header("Authorization", f"Bearer {config['token']}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        raise ClientError(_error_text(err.code, err.read())) from None
    except OSError as exc:
        raise ClientError(f"cannot reach {config['server']}: {exc}") from None


def _error_text(status, raw):
    try:
        error = json.loads(raw)["error"]
        return f"{status} {error['code']}: {error['detail']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


class ChatSocket:
    """One WebSocket connection to /ws/<user>."""

    def __init__(self, config, since=None):
        query = {"token": config["token"]}
        if since is not None:
            query["since"] = since
        base = config["server"].replace("http", "ws", 1)
        path = f"/ws/{urllib.parse.quote(config['user'])}?{urllib.parse.urlencode(query)}"
        self.ws = websocket.create_connection(base + path, timeout=90)

    def frames(self):
        """Server frames until the connection closes."""
        try:
            while data := self.ws.recv():
                yield json.loads(data)
        except websocket.WebSocketConnectionClosedException:
            return

    def send(self, frame):
        """Send one client frame."""
        self.ws.send(json.dumps(frame))

    def close(self):
        """Close politely."""
        self.ws.close()


def socket_frames(config, since):
    """Server frames from one WebSocket connection, until it closes."""
    sock = ChatSocket(config, since)
    try:
        yield from sock.frames()
    finally:
        sock.close()


def sse_frames(config, since):
    """Server frames from one Server-Sent Events connection, until it ends."""
    parts = urllib.parse.urlsplit(config["server"])
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=90)
    headers = {"Authorization": f"Bearer {config['token']}", "Accept": "text/event-stream"}
    if since is not None:
        headers["Last-Event-ID"] = str(since)
    conn.request("GET", f"/events/{urllib.parse.quote(config['user'])}", headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        raise ClientError(_error_text(response.status, response.read()))
    try:
        for line in response:
            if line.startswith(b"data: "):
                yield json.loads(line[len(b"data: "):])
    finally:
        conn.close()


def listen(config, frames, out=sys.stdout):
    """Print every new message and member event, reconnecting with `since` (backoff up to 10 s) forever."""
    last_id, backoff, first = None, 1.0, True
    while True:
        try:
            for frame in frames(config, last_id):
                kind = frame.get("type")
                if kind == "synced":
                    print(f"({'listening as' if first else 'caught up; back as'} {config['user']})",
                          file=sys.stderr, flush=True)
                    last_id, first, backoff = max(last_id or 0, frame["last_id"]), False, 1.0
                elif kind in ("message", "member") and not first:
                    if last_id is None or frame["id"] > last_id:
                        last_id = frame["id"]
                        print(format_event(frame), file=out, flush=True)
        except (OSError, websocket.WebSocketException, http.client.HTTPException) as exc:
            print(f"(connection lost: {exc}; reconnecting in {backoff:.0f} s)", file=sys.stderr, flush=True)
        else:
            print(f"(disconnected; reconnecting in {backoff:.0f} s)", file=sys.stderr, flush=True)
        time.sleep(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)
