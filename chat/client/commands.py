"""The client's commands: login, send, listen, history, the room commands of rooms.py and
edit, delete and unread of conversation.py (`python -m chat.client --help`)."""

import argparse
import getpass
import os
import sys
import urllib.parse
import uuid

from .config import load_config, save_config, server_url
from .connection import ChatSocket, http_json, listen, socket_frames, sse_frames
from .errors import ClientError
from .failures import TRANSPORT_ERRORS
from .lines import format_message
from .conversation import add_parsers as add_conversation_parsers
from .rooms import add_parsers as add_room_parsers, room_name

DEFAULT_SERVER = "http://127.0.0.1:8000"
MESSAGE_KEYS = ("id", "ts", "from_user", "to_user", "msg")


def cmd_login(args):
    """Get a token for NAME (asking for a password with --password) and save it."""
    password = getpass.getpass(f"password for {args.name}: ") if args.password else None
    config = {"server": server_url(args.server)}
    try:
        answer = http_json(config, "POST", "/api/token", {"name": args.name, "password": password},
                           expect=("user", "token", "expires"))
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
    """Send one message (to everyone, one user or a room) and wait for its acknowledgement."""
    config = load_config()
    frame = {"msg": args.text, "cid": uuid.uuid4().hex}
    if args.room is not None:
        frame["room"] = args.room
    else:
        frame["to_user"] = args.to
    if args.sse:
        ack = http_json(config, "POST", "/api/messages", frame, expect=MESSAGE_KEYS)
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
    raise ClientError(f"{sock.closed_with} before the message was acknowledged")


def cmd_listen(args):
    """Print messages and member events as they come, until interrupted."""
    listen(load_config(), sse_frames if args.sse else socket_frames)


def cmd_history(args):
    """Print the newest messages of the group, a direct conversation or a room, oldest first."""
    config = load_config()
    where = {"room": args.room} if args.room is not None else {"with": args.with_user or "*"}
    query = urllib.parse.urlencode({**where, "limit": args.limit})
    for frame in http_json(config, "GET", f"/api/messages?{query}", expect=("messages",))["messages"]:
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
    to = send.add_mutually_exclusive_group()
    to.add_argument("--to", help="a username (default: everyone)")
    to.add_argument("--room", type=room_name, help="a room you are in")
    send.add_argument("text")
    send.add_argument("--sse", action="store_true", help="send with POST /api/messages")
    send.set_defaults(run=cmd_send)
    listen_cmd = commands.add_parser("listen", help="print messages as they come")
    listen_cmd.add_argument("--sse", action="store_true", help="receive Server-Sent Events")
    listen_cmd.set_defaults(run=cmd_listen)
    history = commands.add_parser("history", help="print recent messages")
    where = history.add_mutually_exclusive_group()
    where.add_argument("--with", dest="with_user", help="a username (default: the group)")
    where.add_argument("--room", type=room_name, help="a room")
    history.add_argument("--limit", type=int, default=50)
    history.set_defaults(run=cmd_history)
    add_room_parsers(commands)
    add_conversation_parsers(commands)
    return top


def main(argv=None):
    """Run one command; exit 1 with a one-line message when it fails."""
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except ClientError as exc:
        sys.exit(f"chat: {exc}")
    except TRANSPORT_ERRORS as exc:  # the connection broke after it opened
        sys.exit(f"chat: the connection to the server broke: {exc or type(exc).__name__}")
    except KeyboardInterrupt:
        pass
