"""Read markers and unread counts, one behaviour suite for both stores (SQLite and a real PostgreSQL)."""

import psycopg
import pytest

from chat.storage import postgres
from chat.storage.postgres import PostgresStore
from chat.storage.sqlite import schema, writing
from chat.storage.sqlite.store import SqliteStore


@pytest.fixture(params=["sqlite", "sqlite-mailbox", "postgresql"])
def open_store(request, tmp_path):
    """A factory of stores over one database ("sqlite-mailbox" indexes and counts every
    two messages, so that the search for a marker's place reads the mailbox, the tallies
    and their tails; "sqlite" counts only when it must)."""
    if request.param.startswith("sqlite"):
        path = str(tmp_path / "chat.db")
        rows = 2 if request.param == "sqlite-mailbox" else 1_000_000
        return lambda: SqliteStore(path, fill_rows=rows, tally_rows=rows)
    url = request.getfixturevalue("pg_url")
    return lambda: PostgresStore(url)


def listing(store, user):
    """{conversation: (last_id, read_up_to, unread, peer_read_up_to)} of `user`; "*" for the group."""
    return {c.room and f"#{c.room}" or c.peer or "*": (c.last_id, c.read_up_to, c.unread, c.peer_read_up_to)
            for c in store.conversations(user)}


def users(store, *names):
    """Make the accounts `names`."""
    for one in names:
        store.remember_user(one)


def test_unread_counts_others_messages_above_the_marker_which_never_moves_back(open_store):
    """The group: bob has ann's three unread, reads up to the second, and a lower marker changes nothing."""
    store = open_store()
    users(store, "ann", "bob")
    ids = [store.add_message("ann", None, f"m{i}")[0].id for i in range(3)]
    assert listing(store, "bob")["*"] == (ids[2], 0, 3, None)
    assert listing(store, "ann")["*"] == (ids[2], ids[2], 0, None)
    assert store.read_up_to("bob", ids[1]) == (ids[1], True)
    assert store.read_up_to("BOB", ids[0]) == (ids[1], False)
    assert open_store().conversations("bob")[0].unread == 1
    assert store.read_up_to("bob", ids[2] + 1) is None
    assert listing(store, "bob")["*"] == (ids[2], ids[1], 1, None)


def test_sending_moves_ones_own_marker_and_a_newcomer_starts_at_the_newest(open_store):
    """One's own messages are never unread; an account made later has nothing unread."""
    store = open_store()
    users(store, "ann", "bob")
    store.add_message("ann", None, "one")
    mine, _ = store.add_message("bob", None, "two")
    assert listing(store, "bob")["*"] == (mine.id, mine.id, 0, None)
    assert listing(store, "ann")["*"][2] == 1
    users(store, "cat")
    assert listing(store, "cat")["*"] == (mine.id, mine.id, 0, None)


def test_a_marker_read_past_ones_own_newest_message_stays_there(open_store):
    """Reading past one's own message before it is counted (SQLite's tail): counting it
    later does not take the marker back to it."""
    store = open_store()
    users(store, "ann", "bob")
    store.add_message("ann", None, "mine")
    his, _ = store.add_message("bob", None, "his")
    assert store.read_up_to("ann", his.id) == (his.id, True)
    assert listing(store, "ann")["*"] == (his.id, his.id, 0, None)


def test_direct_conversations_count_for_each_side_and_show_the_peers_marker(open_store):
    """Each pair is listed for both, newest activity first, with the peer's marker."""
    store = open_store()
    users(store, "ann", "Bob", "cat")
    first, _ = store.add_message("ann", "bob", "hi bob")
    second, _ = store.add_message("ann", "bob", "there?")
    to_cat, _ = store.add_message("cat", "ann", "hi ann")
    assert list(listing(store, "ann")) == ["cat", "Bob", "*"]
    assert listing(store, "ann")["Bob"] == (second.id, second.id, 0, 0)
    assert listing(store, "bob")["ann"] == (second.id, 0, 2, second.id)
    assert listing(store, "ann")["cat"] == (to_cat.id, 0, 1, to_cat.id)
    assert store.read_up_to("bob", first.id, other="ANN") == (first.id, True)
    assert listing(store, "bob")["ann"][2] == 1
    assert listing(store, "ann")["Bob"][3] == first.id
    assert listing(store, "cat")["ann"] == (to_cat.id, to_cat.id, 0, 0)
    assert "Bob" not in listing(store, "cat")


def test_a_marker_between_messages_counts_what_lies_above_it(open_store):
    """A marker on an id of another conversation, or of an edit, counts the messages above it."""
    store = open_store()
    users(store, "ann", "bob")
    ids = []
    for i in range(6):
        ids.append(store.add_message("ann", "bob", f"d{i}")[0].id)
        store.add_message("ann", None, f"g{i}")
    edit, _ = store.queue_change("ann", "edit", ids[1], "changed", None).get(timeout=10)
    store.add_message("ann", "bob", "after the edit")
    assert store.read_up_to("bob", ids[2] + 1, other="ann")[0] == ids[2] + 1  # a group message's id
    assert listing(store, "bob")["ann"][2] == 4
    assert store.read_up_to("bob", edit.id, other="ann")[0] == edit.id
    assert listing(store, "bob")["ann"][2] == 1
    assert listing(store, "bob")["*"][2] == 6


def test_deleted_messages_are_not_unread_and_edits_are_not_messages(open_store):
    """A delete takes a message out of the count; edit and delete events never count."""
    store = open_store()
    users(store, "ann", "bob")
    one, _ = store.add_message("ann", None, "one")
    two, _ = store.add_message("ann", None, "two")
    store.queue_change("ann", "edit", one.id, "uno", None).get(timeout=10)
    assert listing(store, "bob")["*"][2] == 2
    store.queue_change("ann", "delete", two.id, None, None).get(timeout=10)
    assert listing(store, "bob")["*"][2] == 1
    store.read_up_to("bob", two.id)
    assert listing(store, "bob")["*"][2] == 0


def test_joining_a_room_marks_it_read_and_member_events_do_not_count(open_store):
    """A room is listed to its members; one who joins has read everything before."""
    store = open_store()
    users(store, "ann", "bob")
    store.create_room("Design", "ann", False, "", 500)
    store.add_message("ann", None, "in the room", room="Design")
    assert "#Design" not in listing(store, "bob")
    _, _, joined = store.join_room("design", "bob", "bob", 500, 100)
    assert listing(store, "bob")["#Design"] == (joined.id, joined.id, 0, None)
    message, _ = store.add_message("ann", None, "welcome", room="Design")
    assert listing(store, "bob")["#Design"] == (message.id, joined.id, 1, None)
    assert listing(store, "ann")["#Design"][2] == 0
    assert store.read_up_to("bob", message.id, room="design") == (message.id, True)
    assert listing(store, "bob")["#Design"][2] == 0


def test_pruning_keeps_the_counts_right(open_store):
    """Pruned messages are no longer unread; the others still are."""
    store = open_store()
    users(store, "ann", "bob")
    old = [store.add_message("ann", None, f"old{i}")[0] for i in range(3)]
    store.queue_change("ann", "delete", old[1].id, None, None).get(timeout=10)
    store.add_message("ann", None, "new")
    store.add_message("ann", None, "newer")
    assert listing(store, "bob")["*"][2] == 4
    assert store.prune(old[2].ts + 1e-6) == 3
    assert listing(store, "bob")["*"][2] == 2
    store.read_up_to("bob", old[0].id)
    assert listing(store, "bob")["*"][2] == 2


def test_erasing_an_account_drops_its_markers_and_direct_conversations(open_store):
    """The erased account's pairs leave the peer's list; a new account of the name starts afresh."""
    store = open_store()
    users(store, "ann", "eve")
    store.add_message("ann", None, "still here")
    store.add_message("eve", "ann", "secret")
    store.add_message("eve", None, "to all")
    assert listing(store, "ann")["eve"][2] == 1 and listing(store, "ann")["*"][2] == 1
    assert store.erase_account("eve")
    assert "eve" not in listing(store, "ann") and listing(store, "ann")["*"][2] == 0
    users(store, "Eve")
    assert listing(store, "eve")["*"][2] == 0 and list(listing(store, "eve")) == ["*"]
    store.add_message("ann", "eve", "hello again")
    assert listing(store, "eve")["ann"][2] == 1


def test_one_commit_of_many_messages_counts_each_and_moves_each_senders_marker(open_store):
    """Messages queued together (one batch of the group commit) count as if sent one by one."""
    store = open_store()
    users(store, "ann", "bob", "cat")
    queued = [store.queue_message(sender, to, text) for sender, to, text in [
        ("ann", None, "g1"), ("bob", None, "g2"), ("ann", "bob", "d1"), ("ann", None, "g3"), ("bob", "ann", "d2"),
        ("cat", None, "g4")]]
    ids = [outcome.get(timeout=10)[0].id for outcome in queued]
    assert listing(store, "ann")["*"] == (ids[5], ids[3], 1, None)
    assert listing(store, "bob")["*"] == (ids[5], ids[1], 2, None)
    assert listing(store, "cat")["*"] == (ids[5], ids[5], 0, None)
    assert listing(store, "ann")["bob"] == (ids[4], ids[2], 1, ids[4])
    assert store.read_up_to("bob", ids[3]) == (ids[3], True)
    assert listing(store, "bob")["*"][2] == 1


def _as_older_server(monkeypatch, version):
    """Make SqliteStore the server of schema `version`: its writer counted nothing behind the commit."""
    monkeypatch.setattr(schema, "SCHEMA_VERSION", version)
    monkeypatch.setattr(writing, "count_tail", lambda conn, newest, waiting=1: None)


def test_a_version_8_sqlite_database_gets_markers_with_nothing_unread(tmp_path, monkeypatch):
    """Today's rows get their numbers and tallies, every marker at its newest; then counts go on."""
    path = str(tmp_path / "chat.db")
    _as_older_server(monkeypatch, 8)
    old = SqliteStore(path)
    _fill_old(old)
    old.close()
    monkeypatch.undo()
    _check_migrated(SqliteStore(path))


def test_a_version_9_sqlite_database_keeps_its_counts_and_counts_each_new_message_once(tmp_path, monkeypatch):
    """Where a trigger counted each message, the counts stay as they were; the next
    messages are counted behind the commit, none twice."""
    path = str(tmp_path / "chat.db")
    _as_older_server(monkeypatch, 9)
    old = SqliteStore(path)
    _fill_old(old)
    before = {user: listing(old, user) for user in ("ann", "bob")}
    old.close()
    monkeypatch.undo()
    store = SqliteStore(path, tally_rows=2)
    assert {user: listing(store, user) for user in ("ann", "bob")} == before
    assert before["ann"]["bob"][2] == 1
    for text in ("d2", "d3", "d4"):
        store.add_message("bob", "ann", text)
    assert listing(store, "ann")["bob"][2] == 4
    assert listing(store, "bob")["ann"][2] == 0


def test_a_version_4_postgresql_database_gets_markers_with_nothing_unread(pg_url, monkeypatch):
    """The same for PostgreSQL."""
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", 4)
    old = PostgresStore(pg_url)
    _fill_old(old)
    old.close()
    monkeypatch.undo()
    _check_migrated(PostgresStore(pg_url))
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT max(version) FROM chat_schema").fetchone()[0] == postgres.SCHEMA_VERSION


def _fill_old(store):
    users(store, "ann", "bob")
    store.add_message("ann", None, "g1")
    store.add_message("bob", "ann", "d1")
    store.create_room("Ops", "ann", False, "", 500)
    store.join_room("ops", "bob", "bob", 500, 100)
    store.add_message("ann", None, "r1", room="Ops")
    deleted, _ = store.add_message("bob", None, "g2")
    store.queue_change("bob", "delete", deleted.id, None, None).get(timeout=10)


def _check_migrated(store):
    for user in ("ann", "bob"):
        assert {key: row[2] for key, row in listing(store, user).items()} == {"*": 0, "#Ops": 0,
                                                                           "bob" if user == "ann" else "ann": 0}
    store.add_message("ann", None, "g3")
    store.add_message("ann", "bob", "d2")
    store.add_message("ann", None, "r2", room="Ops")
    assert {key: row[2] for key, row in listing(store, "bob").items()} == {"*": 1, "#Ops": 1, "ann": 1}
    (history,) = [c for c in store.conversations("bob") if c.peer]
    store.read_up_to("bob", history.last_id - 1, other="ann")
    assert listing(store, "bob")["ann"][2] == 1
