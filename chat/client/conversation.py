"""The client's commands on conversation state: edit, delete and unread (contract v2)."""

from .config import load_config
from .connection import http_json
from .lines import format_change, format_conversations

EVENT_KEYS = ("id", "of", "ts", "from_user")


def cmd_edit(args):
    """Replace the text of one of one's own messages."""
    event = http_json(load_config(), "PATCH", f"/api/messages/{args.id}", {"msg": args.text}, expect=EVENT_KEYS)
    print(format_change(event))


def cmd_delete(args):
    """Delete one of one's own messages (its text is erased on the server)."""
    event = http_json(load_config(), "DELETE", f"/api/messages/{args.id}", expect=EVENT_KEYS)
    print(format_change(event))


def cmd_unread(_args):
    """List one's conversations, newest activity first, with their unread counts."""
    answer = http_json(load_config(), "GET", "/api/conversations", expect=("conversations",))
    for line in format_conversations(answer["conversations"]):
        print(line)


def add_parsers(commands):
    """The edit, delete and unread commands, on the subparsers of the command line."""
    edit = commands.add_parser("edit", help="change the text of a message you sent")
    edit.add_argument("id", type=int)
    edit.add_argument("text")
    edit.set_defaults(run=cmd_edit)
    delete = commands.add_parser("delete", help="delete a message you sent")
    delete.add_argument("id", type=int)
    delete.set_defaults(run=cmd_delete)
    commands.add_parser("unread", help="list conversations with their unread counts").set_defaults(run=cmd_unread)
