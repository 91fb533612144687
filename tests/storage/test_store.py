"""One behaviour suite for both message stores: SQLite and a real PostgreSQL server."""

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import gevent
import pytest

from chat.errors import LoginRefused
from chat.storage.accounts import legacy_session_id
from chat.storage.postgres import PostgresStore
from chat.storage.sqlite import mailbox as sqlite_mailbox, schema
from chat.storage.sqlite import store as sqlite_store
from chat.storage.sqlite.store import SqliteStore


@pytest.fixture(params=["sqlite", "sqlite-mailbox", "postgresql"])
def open_store(request, tmp_path):
    """A factory of stores over one database: calling it twice stands for two hosts.

    "sqlite-mailbox" indexes every two messages, so that queries read both the indexed
    messages and the unindexed tail; plain "sqlite" leaves them in the tail until writes
    stop for a second.
    """
    if request.param.startswith("sqlite"):
        path = str(tmp_path / "chat.db")
        return lambda: SqliteStore(path, fill_rows=2 if request.param == "sqlite-mailbox" else 1_000_000)
    url = request.getfixturevalue("pg_url")
    return lambda: PostgresStore(url)


def mailbox(path):
    """The (key, id) entries of the SQLite store's mailbox file, by id then key."""
    with sqlite3.connect(path + sqlite_mailbox.MAILBOX_SUFFIX) as conn:
        return conn.execute("SELECT key, id FROM mailbox ORDER BY id, key").fetchall()


def test_users_keep_their_first_spelling(open_store):
    """The first spelling of a name is its display name, whatever the case later."""
    store = open_store()
    assert store.display_name("alice") is None
    assert store.remember_user("Alice") == "Alice"
    assert store.remember_user("ALICE") == "Alice"
    assert open_store().display_name("alice") == "Alice"


def test_ids_grow_and_a_cid_is_stored_once(open_store):
    """Each new message gets a larger id; a repeated cid returns the original, not created."""
    store = open_store()
    first, created = store.add_message("ann", None, "one", "c1")
    second, _ = store.add_message("ann", "bob", "two", "c2")
    again, created_again = store.add_message("ann", None, "changed", "c1")
    assert created and not created_again and second.id > first.id
    assert again == first
    assert store.add_message("bob", None, "same cid, other sender", "c1")[1]


def test_messages_queued_together_get_their_own_ids_and_repeats_the_first(open_store):
    """One commit of many messages: each gets the id it is stored under, in the order
    queued, and a cid repeated within the commit or from an earlier one gives the first."""
    store = open_store()
    earlier, _ = store.add_message("ann", None, "earlier", "e1")
    outcomes = [store.queue_message("ann", "bob", f"m{n}", f"k{n}") for n in range(5)]
    outcomes.append(store.queue_message("ann", None, "m0 again", "k0"))
    outcomes.append(store.queue_message("ann", None, "earlier again", "e1"))
    outcomes.append(store.queue_message("cat", None, "after the repeats", "k0"))
    results = [outcome.get(timeout=10) for outcome in outcomes]
    fresh = [record for record, created in results if created]
    assert [record.msg for record in fresh] == ["m0", "m1", "m2", "m3", "m4", "after the repeats"]
    ids = [record.id for record in fresh]
    assert ids == sorted(set(ids)) and ids[0] > earlier.id
    assert results[5] == (fresh[0], False) and results[6] == (earlier, False)
    assert store.history("bob", "ann", 1 << 40, 10) == fresh[:5]
    assert store.history("cat", None, 1 << 40, 10) == [earlier, fresh[5]]


def test_snapshot_shows_what_each_user_may_see(open_store):
    """Group messages and one's own direct messages; since and limit cut; last_id covers all."""
    store = open_store()
    group, _ = store.add_message("ann", None, "hi all")
    to_bob, _ = store.add_message("ann", "bob", "hi bob")
    to_cat, _ = store.add_message("ann", "cat", "hi cat")
    last_id, records, truncated = store.snapshot("bob", None, 50)
    assert last_id == to_cat.id and not truncated
    assert [r.id for r in records] == [group.id, to_bob.id]
    assert [r.id for r in store.snapshot("BOB", group.id, 50)[1]] == [to_bob.id]
    _, records, truncated = store.snapshot("ann", None, 2)
    assert [r.id for r in records] == [to_bob.id, to_cat.id] and truncated
    assert store.snapshot("nobody", None, 50)[1] == [group]


def test_history_pages_one_conversation(open_store):
    """The group or one pair, newest `limit` before an id, oldest first."""
    store = open_store()
    ids = [store.add_message("ann", None, f"g{i}")[0].id for i in range(5)]
    direct, _ = store.add_message("bob", "ann", "psst")
    store.add_message("bob", "cat", "not for ann")
    assert [r.id for r in store.history("ann", None, ids[3], 2)] == ids[1:3]
    assert store.history("ann", "bob", 10**9, 50) == [direct]
    assert store.history("cat", "ann", 10**9, 50) == []


def test_passwords_change_only_from_the_expected_hash(open_store):
    """Compare-and-set: a stale `old` changes nothing."""
    store = open_store()
    store.remember_user("ann")
    assert store.password_hash("ann") is None
    assert store.replace_password_hash("ann", None, "h1")
    assert not store.replace_password_hash("ann", None, "h2")
    assert store.replace_password_hash("ANN", "h1", "h2") and store.password_hash("ann") == "h2"


def test_concurrent_writes_from_two_hosts_are_all_stored_in_commit_order(open_store):
    """Many greenlets on two store instances: every write stored, each id once, last_id covers all."""
    hosts = [open_store(), open_store()]
    jobs = [gevent.spawn(hosts[i % 2].add_message, f"u{i % 7}", None, f"m{i}", f"c{i}") for i in range(120)]
    gevent.joinall(jobs, raise_error=True)
    ids = sorted(job.value[0].id for job in jobs)
    assert len(set(ids)) == 120
    last_id, records, _ = hosts[0].snapshot("u1", None, 1000)
    assert last_id == ids[-1] and [r.id for r in records] == ids


def test_prune_removes_old_messages_but_ids_never_go_back(open_store):
    """Pruning deletes by age; a later message still gets a larger id than any before."""
    store = open_store()
    old, _ = store.add_message("ann", None, "old")
    newest, _ = store.add_message("ann", None, "newer")
    assert store.prune(old.ts + 1e-6) >= 1
    assert old.id not in [r.id for r in store.snapshot("ann", None, 50)[1]]
    if isinstance(store, SqliteStore):  # its index of who sees what lets go of them too
        assert [row for row in mailbox(store.path) if row[1] <= old.id] == []
    store.prune(newest.ts + 1)
    assert store.snapshot("ann", None, 50)[0] >= newest.id
    assert store.add_message("ann", None, "later")[0].id > newest.id


def prune_one_with_the_mailbox_locked(store):
    """Store a message from ann to bob, index it, then prune it while another connection
    holds the mailbox file's write lock, so that freeing its entries fails; return it."""
    old, _ = store.add_message("ann", "bob", "old")
    with gevent.Timeout(5):
        while not mailbox(store.path):
            gevent.sleep(0.05)
    store._indexer.execute("PRAGMA busy_timeout=100")  # pylint: disable=protected-access  (fail fast)
    lock = sqlite3.connect(store.path + sqlite_mailbox.MAILBOX_SUFFIX, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    assert store.prune(old.ts + 1e-6) == 1
    lock.execute("ROLLBACK")
    lock.close()
    return old


def test_a_failed_mailbox_cleanup_is_done_by_the_next_prune(tmp_path):
    """The messages are pruned even while the mailbox file is locked; their entries, which
    could not be freed then, are freed by the next pass."""
    path = str(tmp_path / "chat.db")
    store = SqliteStore(path, fill_rows=1)
    old = prune_one_with_the_mailbox_locked(store)
    assert mailbox(path) == [("ann", 1), ("bob", 1)] and store.snapshot("bob", None, 50)[1] == []
    assert store.prune(old.ts + 1e-6) == 0
    assert mailbox(path) == []


def test_a_cleanup_that_failed_before_a_restart_is_done_by_the_first_prune_after_it(tmp_path):
    """A new process does not know which cleanups failed in the one before: its first pass
    frees the pruned entries of every user."""
    path = str(tmp_path / "chat.db")
    store = SqliteStore(path, fill_rows=1)
    store.remember_user("ann")  # as the server does at login: the sweep goes by who is known
    store.remember_user("bob")
    old = prune_one_with_the_mailbox_locked(store)
    restarted = SqliteStore(path)
    assert mailbox(path) == [("ann", 1), ("bob", 1)]
    assert restarted.prune(old.ts + 1e-6) == 0
    assert mailbox(path) == []


def test_pruning_every_message_frees_entries_below_the_next_id_only(tmp_path):
    """With no message left, the cleanup spares ids from the next one on: a message stored
    between the prune and the cleanup keeps its entries."""
    store = SqliteStore(str(tmp_path / "chat.db"), fill_rows=1_000_000)
    only, _ = store.add_message("ann", None, "only")
    assert store._write(store._prune, only.ts + 1) == (1, [""], only.id + 1)  # pylint: disable=protected-access


def test_a_prune_behind_a_clock_set_back_never_takes_a_newer_message(tmp_path):
    """The SQLite store finds old messages by id, below the first one that is not old:
    an old message stored after a newer one (the clock was set back) waits for a later
    pass, and no message newer than the cutoff goes."""
    path = str(tmp_path / "chat.db")
    store = SqliteStore(path, fill_rows=1_000_000)
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO messages (from_key, from_user, msg, ts) VALUES ('ann', 'ann', ?, ?)",
                         [("old", 100.0), ("stepped back", 50.0), ("new", 300.0), ("old again", 60.0)])
    assert store.prune(200.0) == 2
    assert [r.msg for r in store.snapshot("ann", None, 50)[1]] == ["new", "old again"]
    assert store.prune(301.0) == 2
    assert store.snapshot("ann", None, 50)[1] == []


def test_the_schema_is_made_once_and_reopened(open_store):
    """Opening the same database again migrates nothing and keeps the data; ping answers."""
    open_store().add_message("ann", None, "kept")
    again = open_store()
    again.ping()
    assert [r.msg for r in again.snapshot("ann", None, 50)[1]] == ["kept"]


def test_a_version_2_database_is_migrated_and_indexed(tmp_path):
    """Messages stored before the mailbox existed are indexed when the store opens."""
    path = str(tmp_path / "chat.db")
    with sqlite3.connect(path) as conn:
        conn.executescript(f"{schema.MIGRATIONS[1]} {schema.MIGRATIONS[2]} PRAGMA user_version=2;")
        conn.executemany("INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts) VALUES (?, ?, ?, ?, ?, 1)",
                         [("ann", "Ann", None, None, "to all"), ("ann", "Ann", "bob", "Bob", "to bob")])
    store = SqliteStore(path, fill_rows=1_000_000)
    assert [r.msg for r in store.snapshot("bob", None, 50)[1]] == ["to all", "to bob"]
    assert [r.msg for r in store.history("ann", "bob", 10**9, 50)] == ["to bob"]
    assert mailbox(path) == [("", 1), ("ann", 2), ("bob", 2)]


def test_sqlite_stores_the_empty_recipient_and_room_as_null(tmp_path):
    """The writer binds them as '' (writing.py): the rows hold NULL, which every query
    of the group, the DMs and the rooms reads, in a batch of mixed rows and one by one."""
    path = str(tmp_path / "chat.db")
    store = SqliteStore(path)
    store.create_room("design", "ann", False, "", 500)
    queued = [store.queue_message("ann", None, "to all", "g"), store.queue_message("ann", "bob", "to bob", None),
              store.queue_message("ann", None, "in design", "r", room="design")]
    ids = [result.get()[0].id for result in queued]
    assert store.add_message("ann", None, "to all", "g")[1] is False  # a repeated cid: row by row
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT to_key, to_user, cid, room_key, room FROM messages WHERE kind IS NULL "
                            "ORDER BY id").fetchall()
    assert rows == [(None, None, "g", None, None), ("bob", "bob", None, None, None),
                    (None, None, "r", "design", "design")]
    assert [m.id for m in store.snapshot("bob", None, 50)[1]] == ids[:2]  # not the room: he is not in it


def test_a_readers_page_cache_is_bounded_in_each_file_and_the_writers_is_not(tmp_path):
    """Readers keep READER_CACHE_KIB of pages of the database and of its mailbox; the writer
    keeps SQLite's default (its pages stay valid: nobody else writes the file)."""
    store = SqliteStore(str(tmp_path / "chat.db"), fill_rows=1_000_000)
    reader = store._readers.get()  # pylint: disable=protected-access
    assert [reader.execute(f"PRAGMA {name}.cache_size").fetchone()[0] for name in ("main", "mb")] == \
        [-sqlite_store.READER_CACHE_KIB] * 2
    store._readers.put(reader)  # pylint: disable=protected-access
    assert store._writer.execute("PRAGMA cache_size").fetchone()[0] == -2000  # pylint: disable=protected-access


def test_a_quiet_sqlite_store_indexes_its_tail(tmp_path):
    """Below the fill size, the newest messages are indexed once writes stop for a while."""
    store = SqliteStore(str(tmp_path / "chat.db"), fill_rows=1_000_000)
    store.add_message("ann", "bob", "hi")

    assert mailbox(store.path) == []
    with gevent.Timeout(sqlite_mailbox.FILL_QUIET * 5):
        while not mailbox(store.path):
            gevent.sleep(0.1)
    assert mailbox(store.path) == [("ann", 1), ("bob", 1)]


def test_a_running_store_fills_chunk_by_chunk_and_misses_nothing(tmp_path):
    """A fill behind a running store goes FILL_CHUNK ids at a time, pausing after each:
    every message is indexed, across the chunks' edges too (a group message once, a
    direct one for both its users), and the queries read the mailbox alone."""
    count = sqlite_mailbox.FILL_CHUNK * 2 + 3
    store = SqliteStore(str(tmp_path / "chat.db"), fill_rows=count)
    outcomes = [store.queue_message("ann", "bob" if n % 3 else None, f"m{n}", f"k{n}") for n in range(count)]
    records = [outcome.get(timeout=10)[0] for outcome in outcomes]
    expected = [(key, r.id) for r in records for key in (("ann", "bob") if r.to_user else ("",))]
    with gevent.Timeout(10):
        while store._upto < records[-1].id:  # pylint: disable=protected-access
            gevent.sleep(0.05)
    assert mailbox(store.path) == expected
    assert store.snapshot("bob", None, count)[1:] == (records, False)


def test_the_mailbox_is_rebuilt_when_lost_and_cut_back_when_ahead(tmp_path):
    """The mailbox file is derived: a new one is filled from the messages, and one that lists
    ids the messages no longer reach (a restored backup) does not hide the ids given again."""
    path = str(tmp_path / "chat.db")
    SqliteStore(path, fill_rows=1).add_message("ann", "bob", "first")
    for suffix in ("", "-wal", "-shm"):
        Path(path + sqlite_mailbox.MAILBOX_SUFFIX + suffix).unlink(missing_ok=True)
    store = SqliteStore(path, fill_rows=1)
    assert mailbox(path) == [("ann", 1), ("bob", 1)]
    store.add_message("ann", "bob", "second")
    with gevent.Timeout(5):
        while len(mailbox(path)) < 4:
            gevent.sleep(0.05)
    with sqlite3.connect(path) as conn:  # back to a backup taken after the first message
        conn.execute("DELETE FROM messages WHERE id = 2")
        conn.execute("UPDATE sqlite_sequence SET seq = 1 WHERE name = 'messages'")
    store = SqliteStore(path, fill_rows=1_000_000)
    assert mailbox(path) == [("ann", 1), ("bob", 1)]
    again, _ = store.add_message("cy", "dee", "after the restore")
    assert again.id == 2
    assert [r.msg for r in store.snapshot("cy", None, 50)[1]] == ["after the restore"]


def test_a_look_alike_of_an_account_is_refused_on_every_host(open_store):
    """A new name with another account's skeleton is refused, also by a second store over the database."""
    open_store().open_account("alice")
    with pytest.raises(LoginRefused) as info:
        open_store().open_account("\u0251lice")
    assert info.value.code == "bad_name" and "looks like" in info.value.detail
    assert open_store().open_account("ALICE") == "alice"  # the same account, not a look-alike


def test_a_guest_holds_its_name_until_its_last_session_ends(open_store):
    """log_in_guest: a session, then name_taken; ending the session erases the guest and frees the name."""
    store = open_store()
    outcome = store.log_in_guest("Gus", None, 60, None)
    assert outcome[:2] == ("session", "Gus")
    with pytest.raises(LoginRefused) as info:
        open_store().log_in_guest("gus", None, 60, None)
    assert info.value.code == "name_taken"
    assert store.session_account(outcome[2])[0] == "Gus"
    assert store.end_session(outcome[2]) == "Gus"
    assert store.session_account(outcome[2]) is None
    assert open_store().log_in_guest("gus", None, 60, None)[:2] == ("session", "gus")


def test_erasing_an_account_removes_its_dms_and_blanks_its_group_messages(open_store):
    """DMs to and from it go (the newest id stays, for nobody); its group messages become stubs."""
    store = open_store()
    for name in ("eve", "fay"):
        store.open_account(name)
    store.add_message("fay", None, "fay to all")
    store.add_message("eve", None, "eve to all")
    store.add_message("fay", "eve", "fay to eve")
    last = store.add_message("eve", "fay", "eve to fay")[0].id
    assert store.erase_account("eve") and not store.erase_account("eve")
    assert store.last_id() == last
    seen = store.snapshot("fay", None, 50)[1]
    assert [(m.from_user, m.msg) for m in seen] == [("fay", "fay to all"), ("eve", "")]
    store.open_account("eve")
    assert store.snapshot("eve", None, 50)[1] == seen
    assert store.history("eve", "fay", 10**9, 50) == []


def test_a_version_5_database_gets_accounts_and_keeps_its_sessions(tmp_path):
    """Migrated at start: every name an account with its skeleton, and a legacy session."""
    path = str(tmp_path / "chat.db")
    with sqlite3.connect(path) as conn:
        conn.executescript(" ".join(schema.MIGRATIONS[step] for step in range(1, 6)) + " PRAGMA user_version=5;")
        conn.execute("INSERT INTO users (key, name, created) VALUES ('ann', 'Ann', 1)")
        conn.execute("INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts) "
                     "VALUES ('ann', 'Ann', NULL, NULL, 'kept', 1)")
    store = SqliteStore(path)
    assert store.session_account(legacy_session_id("ann")) == ("Ann", None)
    assert [m.msg for m in store.snapshot("ann", None, 50)[1]] == ["kept"]
    with pytest.raises(LoginRefused):
        store.open_account("\u0430nn")


def test_a_version_1_postgresql_database_gets_accounts(pg_url):
    """The PostgreSQL schema of v1 is migrated the same way, nothing lost."""
    import psycopg  # pylint: disable=import-outside-toplevel
    from chat.storage import postgres  # pylint: disable=import-outside-toplevel
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS users, messages, sessions, chat_schema")
        conn.execute(postgres._MIGRATIONS[1])  # pylint: disable=protected-access
        conn.execute("CREATE TABLE chat_schema (version INTEGER NOT NULL); INSERT INTO chat_schema VALUES (1)")
        conn.execute("INSERT INTO users (key, name, created) VALUES ('bo', 'Bo', 1)")
    store = PostgresStore(pg_url)
    assert store.session_account(legacy_session_id("bo")) == ("Bo", None)
    with pytest.raises(LoginRefused):
        store.open_account("\U0001d401\U0001d428")  # mathematical bold "Bo": a look-alike


# -- rooms -------------------------------------------------------------------------------

def test_rooms_are_made_once_in_any_spelling_and_private_ones_hide(open_store):
    """Create, the name taken in another case or by a look-alike, private rooms unseen by outsiders."""
    store = open_store()
    for user in ("ann", "bob"):
        store.remember_user(user)
    outcome, room, event = store.create_room("Design", "ann", False, "pixels", 500)
    assert outcome == "ok" and room.name == "Design" and room.members == 1 and room.member
    assert (event.kind, event.room, event.to_user, event.from_user, event.msg) == ("member", "Design", "ann", "ann", "join")
    assert store.create_room("design", "bob", True, "", 500)[0] == "room_exists"
    assert store.create_room("Desi\u0261n", "bob", False, "", 500)[0] == "looks_like"  # Latin script g
    assert store.create_room("Des\u0456gn", "bob", False, "", 500)[0] == "bad_name"  # Cyrillic i
    assert store.create_room("hiring", "ann", True, "", 500)[0] == "ok"
    assert store.create_room("more", "ann", False, "", 2)[0] == "too_many_rooms"
    assert store.room("hiring", "bob") is None and store.room("HIRING", "ann").private
    assert [r.name for r in store.rooms("bob")] == ["Design"]
    assert [r.name for r in open_store().rooms("ann")] == ["Design", "hiring"]


def test_membership_changes_are_events_in_the_one_sequence(open_store):
    """Join, add, leave: each a member event with its own id; repeats change nothing; refusals."""
    store = open_store()
    for user in ("ann", "bob", "cat"):
        store.remember_user(user)
    _, _, created = store.create_room("ops", "ann", False, "", 500)
    store.create_room("hiring", "ann", True, "", 500)
    outcome, room, joined = store.join_room("OPS", "bob", "bob", 500, 10)
    assert outcome == "ok" and room.members == 2 and joined.id > created.id and joined.room == "ops"
    assert store.join_room("ops", "bob", "bob", 500, 10)[0] == "same"
    assert store.join_room("hiring", "bob", "bob", 500, 10)[0] == "unknown_room"
    assert store.join_room("hiring", "cat", "bob", 500, 10)[0] == "unknown_room"  # bob is not in it
    assert store.join_room("ops", "cat", "dan", 500, 10)[0] == "not_member"
    assert store.join_room("ops", "nobody", "ann", 500, 10)[0] == "unknown_user"
    assert store.join_room("ops", "cat", "ann", 500, 2)[0] == "room_full"
    assert store.join_room("ops", "cat", "ann", 0, 10)[0] == "too_many_rooms"
    outcome, _, added = store.join_room("hiring", "CAT", "ann", 500, 10)
    assert outcome == "ok" and (added.from_user, added.to_user) == ("ann", "cat")
    assert store.room_members("hiring") == ["ann", "cat"]
    outcome, room, left = store.leave_room("ops", "bob")
    assert outcome == "ok" and not room.member and left.msg == "leave" and left.id > added.id
    assert store.leave_room("ops", "bob")[0] == "same"
    assert store.set_topic("ops", "bob", "x")[0] == "not_member"
    assert store.set_topic("ops", "ann", "uptime")[1].topic == "uptime"
    assert sorted(store.memberships()) == [("hiring", "hiring", "ann"), ("hiring", "hiring", "cat"),
                                          ("ops", "ops", "ann")]


def test_a_rooms_events_are_visible_to_its_current_members_only(open_store):
    """Members see the room's whole history, joined late or not; who leaves sees only their
    own member events; the room's history pages its messages alone."""
    store = open_store()
    for user in ("ann", "bob"):
        store.remember_user(user)
    _, _, created = store.create_room("design", "ann", False, "", 500)
    before, _ = store.add_message("ann", None, "before bob", "r1", room="design")
    group, _ = store.add_message("ann", None, "to everyone")
    assert before.room == "design" and store.snapshot("bob", None, 50)[1] == [group]
    _, _, joined = store.join_room("design", "bob", "bob", 500, 10)
    assert [r.id for r in store.snapshot("bob", None, 50)[1]] == [created.id, before.id, group.id, joined.id]
    assert [r.id for r in store.snapshot("bob", before.id, 50)[1]] == [group.id, joined.id]
    assert store.history("bob", None, 1 << 40, 50, room="design") == [before]
    assert store.history("bob", None, 1 << 40, 50) == [group]
    _, _, left = store.leave_room("design", "bob")
    assert [r.id for r in open_store().snapshot("bob", None, 50)[1]] == [group.id, joined.id, left.id]
    assert store.add_message("ann", None, "before bob", "r1", room="design") == (before, False)


def test_a_user_in_many_rooms_sees_each_and_the_newest_first(open_store):
    """More rooms than one query of the mailbox takes: the newest events of all of them."""
    store = open_store()
    store.remember_user("ann")
    for n in range(sqlite_mailbox.ROOMS_PER_QUERY + 5):
        store.create_room(f"r{n}", "ann", False, "", 1000)
    last, _ = store.add_message("ann", None, "in the last room", room=f"r{sqlite_mailbox.ROOMS_PER_QUERY + 4}")
    first, _ = store.add_message("ann", None, "in the first room", room="r0")
    _, records, truncated = store.snapshot("ann", None, 3)
    assert [r.id for r in records][-2:] == [last.id, first.id] and truncated
    _, records, _ = store.snapshot("ann", 0, 1000)
    assert len(records) == sqlite_mailbox.ROOMS_PER_QUERY + 7


# -- edits and deletes ---------------------------------------------------------------

def test_edits_and_deletes_change_the_message_in_place_and_are_events(open_store):
    """An edit and a delete each take an id; every read serves the message as it is now;
    a delete blanks the edits' text too; a repeated cid gives the stored event."""
    store = open_store()
    original, _ = store.add_message("ann", "bob", "helo", "m1")
    edit, created = store.queue_change("ann", "edit", original.id, "hello", "e1").get(timeout=10)
    assert created and (edit.kind, edit.of, edit.msg, edit.to_user) == ("edit", original.id, "hello", "bob")
    assert store.queue_change("ann", "edit", original.id, "again", "e1").get(timeout=10) == (edit, False)
    (current,) = store.history("bob", "ann", 1 << 40, 50)
    assert current.msg == "hello" and current.edited == edit.ts
    assert [r.id for r in store.snapshot("bob", 0, 50)[1]] == [original.id, edit.id]
    delete, _ = store.queue_change("ann", "delete", original.id, None, "d1").get(timeout=10)
    assert (delete.kind, delete.of, delete.msg) == ("delete", original.id, "")
    assert [(r.kind, r.msg) for r in open_store().snapshot("bob", 0, 50)[1]] == [(None, ""), ("edit", ""), ("delete", "")]
    assert store.queue_change("ann", "edit", original.id, "back", "e2").get(timeout=10) == (None, "not_found")


def test_only_the_sender_changes_a_message_and_others_learn_nothing(open_store):
    """forbidden for a message one sees but did not send; not_found for one one cannot see."""
    store = open_store()
    for user in ("ann", "bob", "cat"):
        store.remember_user(user)
    group, _ = store.add_message("ann", None, "to all")
    direct, _ = store.add_message("ann", "bob", "to bob")
    store.create_room("hiring", "ann", True, "", 500)
    secret, _ = store.add_message("ann", None, "in a private room", room="hiring")

    def change(user, of):
        return store.queue_change(user, "delete", of, None, None).get(timeout=10)[1]

    assert change("bob", group.id) == "forbidden" and change("bob", direct.id) == "forbidden"
    assert change("cat", direct.id) == "not_found" and change("cat", secret.id) == "not_found"
    assert change("cat", 10**9) == "not_found"
    assert store.join_room("hiring", "cat", "ann", 500, 10)[0] == "ok"
    assert change("cat", secret.id) == "forbidden"


_OPEN_AT = """
import sys, time
from chat.storage.sqlite.store import SqliteStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
SqliteStore(sys.argv[1]).add_message(sys.argv[3], None, "hello")
"""


def test_workers_starting_at_once_share_a_new_database(tmp_path):
    """Four processes opening one new SQLite file at the same moment (gunicorn's workers
    on a first start) all start: one migrates it, the others find it migrated."""
    path, start = str(tmp_path / "chat.db"), time.time() + 1.5
    workers = [subprocess.Popen([sys.executable, "-c", _OPEN_AT, path, str(start), f"w{n}"],
                                cwd=Path(__file__).parents[2], stderr=subprocess.PIPE, text=True)
               for n in range(4)]
    errors = [worker.communicate(timeout=60)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 4, errors
    rows = SqliteStore(path).snapshot("w0", None, 50)[1]
    assert sorted(r.from_user for r in rows) == ["w0", "w1", "w2", "w3"]


@pytest.mark.parametrize("new_file", ["chat.db", "chat.db" + sqlite_mailbox.MAILBOX_SUFFIX])
def test_a_new_file_locked_for_a_moment_is_waited_for(tmp_path, new_file):
    """The switch of a new file (the database, or the mailbox beside it) to WAL waits while
    another worker holds the file's lock, as every other statement does: SQLite's busy
    timeout alone gives up at once there."""
    path = str(tmp_path / "chat.db")
    if new_file != "chat.db":
        schema.open_database(path).close()  # the database there, its mailbox new
    holder = sqlite3.connect(str(tmp_path / new_file), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        store = SqliteStore(path)
    finally:
        release.join()
        holder.close()
    store.add_message("ann", None, "hello")
    assert [r.msg for r in store.snapshot("ann", None, 50)[1]] == ["hello"]
