"""Which events a query wants: the columns of a stored event, and conditions on a row of `messages`."""

COLUMNS = "id, from_user, to_user, msg, ts, room, kind, of_id, edited"


# Which events a query wants, as conditions on a row of `messages`. A room's rows carry
# its key in room_key; a member event also names its subject in to_key.
GROUP = "(to_key IS NULL AND room_key IS NULL)"


MESSAGES_ONLY = "kind IS NULL"  # not the edits and deletes (they change messages in place)


PAIR = "(room_key IS NULL AND ((from_key = :me AND to_key = :other) OR (from_key = :other AND to_key = :me)))"


TO_OR_FROM_ME = "(room_key IS NULL AND (to_key = :me OR from_key = :me))"


MY_MEMBER_EVENTS = "(room_key IS NOT NULL AND kind = 'member' AND to_key = :me)"


MY_ROOMS = "room_key IN (SELECT room_key FROM members WHERE user_key = :me)"


VISIBLE = f"({GROUP} OR {TO_OR_FROM_ME} OR {MY_MEMBER_EVENTS} OR {MY_ROOMS})"


ROOM_MESSAGES = "(room_key = :room AND kind IS NULL)"
