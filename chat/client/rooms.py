"""The client's room commands: rooms, create-room, join, leave, add (contract v2, Rooms)."""

import sys
import urllib.parse

from .config import load_config
from .connection import http_json
from .lines import format_room, format_rooms


def room_name(text):
    """A room named on the command line; "#design" means design (no room name holds a "#")."""
    return text[1:] if text.startswith("#") else text


def room_path(name, *rest):
    """/api/rooms/<name>[/rest...], the name quoted whole (it may hold any letter)."""
    return "/".join(["/api/rooms", urllib.parse.quote(name, safe=""), *rest])


def cmd_rooms(_args):
    """List the rooms one can see: every public room and the private rooms one is in."""
    rooms = http_json(load_config(), "GET", "/api/rooms", expect=("rooms",))["rooms"]
    for line in format_rooms(rooms):
        print(line)
    if not rooms:
        print("(no rooms yet: create one with `create-room NAME`)", file=sys.stderr)


def cmd_create_room(args):
    """Create a room; its creator is its first member."""
    body = {"name": args.name, "private": args.private, "topic": args.topic}
    _change_room("/api/rooms", body)


def cmd_join(args):
    """Join a public room."""
    _change_room(room_path(args.room, "join"))


def cmd_leave(args):
    """Leave a room."""
    _change_room(room_path(args.room, "leave"))


def cmd_add(args):
    """Add a user to a room one is a member of (the way into a private room)."""
    _change_room(room_path(args.room, "members"), {"user": args.user})


def _change_room(path, body=None):
    """POST to `path` and print the room of the answer."""
    print(format_room(http_json(load_config(), "POST", path, body, expect=("room",))["room"]))


def add_parsers(commands):
    """The room commands, on the subparsers of the command line."""
    commands.add_parser("rooms", help="list rooms").set_defaults(run=cmd_rooms)
    create = commands.add_parser("create-room", help="create a room and join it")
    create.add_argument("name")
    create.add_argument("--private", action="store_true", help="hidden from non-members; members add people")
    create.add_argument("--topic", default="")
    create.set_defaults(run=cmd_create_room)
    for name, run, text in (("join", cmd_join, "join a public room"), ("leave", cmd_leave, "leave a room")):
        command = commands.add_parser(name, help=text)
        command.add_argument("room", type=room_name)
        command.set_defaults(run=run)
    add = commands.add_parser("add", help="add someone to a room you are in")
    add.add_argument("room", type=room_name)
    add.add_argument("user")
    add.set_defaults(run=cmd_add)
