"""What the client prints: one line for a message, a member event or a room."""


def format_message(frame):
    """One line for one message: id, time, sender → recipient (a user, everyone or #room): text."""
    if frame.get("room") is not None:
        to = f"#{frame['room']}"
    else:
        to = frame["to_user"] if frame["to_user"] is not None else "everyone"
    return f"#{frame['id']} {frame['ts']} {frame['from_user']} → {to}: {frame['msg']}"


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
    """The line of a stored event the client prints: a message or a member event."""
    return format_member(frame) if frame["type"] == "member" else format_message(frame)


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
