"""A command-line chat client: `python -m chat.client login|send|listen|history`.

It keeps the server address and a token in a small JSON file (CHAT_CLIENT_CONFIG,
default ~/.config/chat-client.json, mode 0600). It talks WebSocket by default;
`--sse` receives Server-Sent Events and sends with POST /api/messages instead.
"""

import argparse
import getpass
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import websocket

DEFAULT_SERVER = "http://127.0.0.1:8000"
BACKOFF_MAX = 10.0


class ClientError(Exception):
    """Raised for anything that stops a command; the message is for the user."""


# -- configuration ---------------------------------------------------------------

def _config_path():
    return os.environ.get("CHAT_CLIENT_CONFIG") or os.path.expanduser("~/.config/chat-client.json")


def load_config():
    """The saved server, user and token; ClientError when nobody logged in."""
    try:
        with open(_config_path(), encoding="utf-8") as config:
            return json.load(config)
    except FileNotFoundError:
        raise ClientError("not logged in: run `python -m chat.client login NAME` first") from None


def save_config(config):
    """Keep the token where only this user can read it."""
    path = _config_path()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config, out)


# -- HTTP -------------------------------------------------------------------------

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


def format_message(frame):
    """One line for one message: id, time, sender → recipient: text."""
    to = frame["to_user"] if frame["to_user"] is not None else "everyone"
    return f"#{frame['id']} {frame['ts']} {frame['from_user']} → {to}: {frame['msg']}"


# -- receiving ----------------------------------------------------------------------

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
    """Print every new message, reconnecting with `since` (backoff up to 10 s) forever."""
    last_id, backoff, first = None, 1.0, True
    while True:
        try:
            for frame in frames(config, last_id):
                kind = frame.get("type")
                if kind == "synced":
                    print(f"({'listening as' if first else 'caught up; back as'} {config['user']})",
                          file=sys.stderr, flush=True)
                    last_id, first, backoff = max(last_id or 0, frame["last_id"]), False, 1.0
                elif kind == "message" and not first:
                    if last_id is None or frame["id"] > last_id:
                        last_id = frame["id"]
                        print(format_message(frame), file=out, flush=True)
        except (OSError, websocket.WebSocketException, http.client.HTTPException) as exc:
            print(f"(connection lost: {exc}; reconnecting in {backoff:.0f} s)", file=sys.stderr, flush=True)
        else:
            print(f"(disconnected; reconnecting in {backoff:.0f} s)", file=sys.stderr, flush=True)
        time.sleep(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)


# -- commands -------------------------------------------------------------------------

def cmd_login(args):
    """Get a token for NAME (asking for a password with --password) and save it."""
    password = getpass.getpass(f"password for {args.name}: ") if args.password else None
    config = {"server": args.server.rstrip("/")}
    answer = http_json(config, "POST", "/api/token", {"name": args.name, "password": password})
    config.update(user=answer["user"], token=answer["token"])
    save_config(config)
    print(f"logged in as {answer['user']} until {answer['expires']}")


def cmd_send(args):
    """Send one message and wait for its acknowledgement."""
    config = load_config()
    frame = {"msg": args.text, "to_user": args.to, "cid": uuid.uuid4().hex}
    if args.sse:
        ack = http_json(config, "POST", "/api/messages", frame)
    else:
        ack = _send_over_socket(config, frame)
    print(format_message(ack))


def _send_over_socket(config, frame):
    sock = ChatSocket(config)
    try:
        for got in sock.frames():
            if got["type"] == "synced":
                sock.send(frame)
            elif got.get("cid") == frame["cid"] and got["type"] == "error":
                raise ClientError(f"{got['code']}: {got['detail']}")
            elif got.get("cid") == frame["cid"] and got["type"] == "message":
                return got
    finally:
        sock.close()
    raise ClientError("the connection closed before the message was acknowledged")


def cmd_listen(args):
    """Print messages as they come, until interrupted."""
    listen(load_config(), sse_frames if args.sse else socket_frames)


def cmd_history(args):
    """Print the newest messages of the group or of one conversation, oldest first."""
    config = load_config()
    query = urllib.parse.urlencode({"with": args.with_user or "*", "limit": args.limit})
    for frame in http_json(config, "GET", f"/api/messages?{query}")["messages"]:
        print(format_message(frame))


def parser():
    """The command line."""
    top = argparse.ArgumentParser(prog="python -m chat.client", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    login = commands.add_parser("login", help="log in and keep a token")
    login.add_argument("name")
    login.add_argument("--password", action="store_true", help="ask for the name's password")
    login.add_argument("--server", default=os.environ.get("CHAT_SERVER", DEFAULT_SERVER))
    login.set_defaults(run=cmd_login)
    send = commands.add_parser("send", help="send one message")
    send.add_argument("--to", help="a username (default: everyone)")
    send.add_argument("text")
    send.add_argument("--sse", action="store_true", help="send with POST /api/messages")
    send.set_defaults(run=cmd_send)
    listen_cmd = commands.add_parser("listen", help="print messages as they come")
    listen_cmd.add_argument("--sse", action="store_true", help="receive Server-Sent Events")
    listen_cmd.set_defaults(run=cmd_listen)
    history = commands.add_parser("history", help="print recent messages")
    history.add_argument("--with", dest="with_user", help="a username (default: the group)")
    history.add_argument("--limit", type=int, default=50)
    history.set_defaults(run=cmd_history)
    return top


def main(argv=None):
    """Run one command; exit 1 with a message when it fails."""
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except ClientError as exc:
        sys.exit(f"chat: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
