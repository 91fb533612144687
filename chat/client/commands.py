"""The client's commands: login, send, listen, history (`python -m chat.client --help`)."""

import argparse
import getpass
import os
import sys
import urllib.parse
import uuid

from .config import load_config, save_config
from .connection import ChatSocket, format_message, http_json, listen, socket_frames, sse_frames
from .errors import ClientError

DEFAULT_SERVER = "http://127.0.0.1:8000"


def cmd_login(args):
    """Get a token for NAME (asking for a password with --password) and save it."""
    password = getpass.getpass(f"password for {args.name}: ") if args.password else None
    config = {"server": args.server.rstrip("/")}
    try:
        answer = http_json(config, "POST", "/api/token", {"name": args.name, "password": password})
    except ClientError as exc:
        if "name_taken" in str(exc):
            raise ClientError(f"{exc}\n{args.name} is held by a guest that is logged in somewhere: log in "
                              "there and set a password (the page's Password section), then run "
                              f"'login {args.name} --password' here") from None
        raise
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
    top = argparse.ArgumentParser(prog="python -m chat.client", description="A command-line chat client.")
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
