"""What the client prints: one line for a message, a member event, an edit or delete, typing, a
conversation or a room."""


def format_message(frame):
    """One line for one message: id, time, sender → recipient (a user, everyone or #room): text,
    in its current state ("(edited)", or "(message deleted)" in place of the text)."""
    text = "(message deleted)" if frame.get("deleted") else frame["msg"]
    edited = " (edited)" if frame.get("edited") and not frame.get("deleted") else ""
    return f"#{frame['id']} {frame['ts']} {frame['from_user']} → {_audience(frame)}: {text}{edited}"


def _audience(frame):
    """Where a frame went: #room, a user, or everyone."""
    if frame.get("room") is not None:
        return f"#{frame['room']}"
    return frame["to_user"] if frame["to_user"] is not None else "everyone"


def format_change(frame):
    """One line for an edit or a delete event: "#58 <ts> ann edited #42: new text"."""
    if frame["type"] == "delete":
        return f"#{frame['id']} {frame['ts']} {frame['from_user']} deleted #{frame['of']}"
    return f"#{frame['id']} {frame['ts']} {frame['from_user']} edited #{frame['of']}: {frame['msg']}"


def format_typing(frame):
    """One line for a typing frame: "ann is typing in #design" (or "to you", "to everyone")."""
    if frame.get("room") is not None:
        where = f"in #{frame['room']}"
    else:
        where = "to everyone" if frame["with"] == "*" else "to you"
    return f"{frame['user']} is typing {where}"


def format_conversations(conversations):
    """One line per conversation: where (#room, a user or everyone), unread count, newest id."""
    lines = []
    for item in conversations:
        where = f"#{item['room']}" if "room" in item else ("everyone" if item["with"] == "*" else item["with"])
        lines.append(f"{where}  {item['unread']} unread  (newest #{item['last_id']}, read up to "
                     f"#{item['read_up_to']})")
    return lines


def format_member(frame):
    """One line for a member event: "bob joined #design", "bob left …", "ann added bob to …"."""
    if not frame["joined"]:
        what = f"{frame['user']} left"
    elif frame["by"] != frame["user"]:
        what = f"{frame['by']} added {frame['user']} to"
    else:
        what = f"{frame['user']} joined"
    return f"#{frame['id']} {frame['ts']} {what} #{frame['room']}"


def format_event(frame):
    """The line of an event the client prints: a message, a member event, an edit or delete, typing."""
    kind = frame["type"]
    if kind == "member":
        return format_member(frame)
    if kind in ("edit", "delete"):
        return format_change(frame)
    if kind == "typing":
        return format_typing(frame)
    return format_message(frame)


def format_rooms(rooms):
    """One line per room, in columns: #name, public or private, members, joined or not, topic."""
    rows = [_room_columns(room) for room in rooms]
    widths = [max(len(row[column]) for row in rows) for column in range(4)] if rows else []
    return ["  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[4]]).rstrip()
            for row in rows]


def format_room(room):
    """One room's line, as in the list."""
    return format_rooms([room])[0]


def _room_columns(room):
    count = f"{room['members']} member{'' if room['members'] == 1 else 's'}"
    return (f"#{room['name']}", "private" if room["private"] else "public", count,
            "joined" if room["member"] else "not joined", room["topic"])
