"""Talking to the server: JSON over HTTP, and server frames from a WebSocket or an event stream."""

import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websocket

from . import failures
from .errors import ClientError, Unreachable
from .lines import format_event

BACKOFF_MAX = 10.0
STORED_KINDS = ("message", "member", "edit", "delete")  # the events with an id, printed once each
READ_TIMEOUT = 90.0  # an open connection hears at least a ping every CHAT_PING_INTERVAL (20 s)


def http_json(config, method, path, body=None, expect=()):
    """One JSON request to the server; returns the parsed answer (a JSON object holding the
    keys `expect`) or raises ClientError."""
    url = config["server"]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if config.get("token"):
        request.add_header("Authorization", f"Bearer {config['token']}")
    try:
        with urllib.request.urlopen(request, timeout=request_timeout()) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        raise failures.refused(url, err.code, err.read()) from None
    except http.client.HTTPException:
        raise failures.not_http(url) from None
    except OSError as exc:
        raise failures.unreachable(url, exc) from None
    try:
        return failures.checked(url, json.loads(raw), expect)
    except ValueError:
        raise failures.not_a_chat_server(url, "its answer is not JSON") from None


def request_timeout():
    """Seconds to wait for the server to answer a request or a handshake: CHAT_CLIENT_TIMEOUT, else 30."""
    try:
        return float(os.environ.get("CHAT_CLIENT_TIMEOUT") or 30)
    except ValueError:
        raise ClientError("CHAT_CLIENT_TIMEOUT must be a number of seconds") from None


class ChatSocket:
    """One WebSocket connection to /ws/<user>; `closed_with` says how the server closed it."""

    def __init__(self, config, since=None):
        query = {"token": config["token"]}
        if since is not None:
            query["since"] = since
        url = config["server"]
        path = f"/ws/{urllib.parse.quote(config['user'])}?{urllib.parse.urlencode(query)}"
        self.closed_with = failures.closed(None, "")
        try:
            self.ws = websocket.create_connection(url.replace("http", "ws", 1) + path, timeout=request_timeout())
        except websocket.WebSocketBadStatusException as exc:
            raise failures.refused(url, exc.status_code, exc.resp_body or b"") from None
        except (OSError, websocket.WebSocketException) as exc:
            raise failures.unreachable(url, exc) from None
        self.ws.settimeout(READ_TIMEOUT)

    def frames(self):
        """Server frames until the connection closes."""
        try:
            while True:
                opcode, data = self.ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                    self.closed_with = failures.closed(code, data[2:].decode("utf-8", "replace"))
                    return
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
    raise websocket.WebSocketConnectionClosedException(sock.closed_with)


def sse_frames(config, since):
    """Server frames from one Server-Sent Events connection, until it ends."""
    url = config["server"]
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = connection(parts.hostname, parts.port, timeout=request_timeout())
    headers = {"Authorization": f"Bearer {config['token']}", "Accept": "text/event-stream"}
    if since is not None:
        headers["Last-Event-ID"] = str(since)
    try:
        conn.request("GET", f"/events/{urllib.parse.quote(config['user'])}", headers=headers)
        response = conn.getresponse()
    except http.client.HTTPException:
        raise failures.not_http(url) from None
    except OSError as exc:
        raise failures.unreachable(url, exc) from None
    if response.status != 200:
        raise failures.refused(url, response.status, response.read())
    conn.sock.settimeout(READ_TIMEOUT)
    try:
        for line in response:
            if line.startswith(b"data: "):
                yield json.loads(line[len(b"data: "):])
    finally:
        conn.close()


def listen(config, frames, out=sys.stdout):
    """Print every new stored event (messages, member events, edits, deletes) and typing, reconnecting with `since` (backoff up to 10 s) forever."""
    last_id, backoff, first = None, 1.0, True
    while True:
        try:
            for frame in frames(config, last_id):
                kind = frame.get("type")
                if kind == "synced":
                    print(f"({'listening as' if first else 'caught up; back as'} {config['user']})",
                          file=sys.stderr, flush=True)
                    last_id, first, backoff = max(last_id or 0, frame["last_id"]), False, 1.0
                elif kind in STORED_KINDS and not first:
                    if last_id is None or frame["id"] > last_id:
                        last_id = frame["id"]
                        print(format_event(frame), file=out, flush=True)
                elif kind == "typing":
                    print(format_event(frame), file=out, flush=True)
        except Unreachable as exc:
            print(f"({exc}; reconnecting in {backoff:.0f} s)", file=sys.stderr, flush=True)
        except failures.TRANSPORT_ERRORS as exc:
            print(f"(connection lost: {exc or type(exc).__name__}; reconnecting in {backoff:.0f} s)",
                  file=sys.stderr, flush=True)
        else:
            print(f"(disconnected; reconnecting in {backoff:.0f} s)", file=sys.stderr, flush=True)
        time.sleep(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)
