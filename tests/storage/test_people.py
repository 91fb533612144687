"""Who shares a direct conversation with whom, and accounts by name prefix, on both stores."""

import pytest

from chat.storage.postgres import PostgresStore
from chat.storage.sqlite.store import SqliteStore


@pytest.fixture(params=["sqlite", "sqlite-mailbox", "postgresql"])
def store(request, tmp_path):
    """A store; "sqlite-mailbox" indexes every two messages, so that the partners are found
    both in the mailbox and in its unindexed tail."""
    if request.param.startswith("sqlite"):
        opened = SqliteStore(str(tmp_path / "chat.db"), fill_rows=2 if request.param == "sqlite-mailbox" else 1_000_000)
    else:
        opened = PostgresStore(request.getfixturevalue("pg_url"))
    yield opened
    opened.close()


def test_partners_are_the_other_side_of_direct_messages_either_way(store):
    """Messages to and from a user make partners; the group, rooms and notes to oneself do not."""
    for name in ("Ann", "Bob", "Cat", "Dan", "Eve"):
        store.remember_user(name)
    store.add_message("Ann", "Bob", "to bob")
    store.add_message("Cat", "Ann", "from cat")
    store.add_message("Ann", "Ann", "a note")
    store.add_message("Dan", None, "to the group")
    store.create_room("lobby", "Eve", False, "", 500)
    store.add_message("Eve", None, "in a room", room="lobby")
    store.add_message("Bob", "Ann", "back to ann")
    assert store.partners("ann") == {"bob": "Bob", "cat": "Cat"}
    assert store.partners("BOB") == {"ann": "Ann"}
    assert store.partners("dan") == {}


def test_an_erased_account_is_nobody_s_partner(store):
    """Once an account is erased, its direct messages make no partner of it."""
    store.remember_user("Ann")
    store.remember_user("Bob")
    store.add_message("Ann", "Bob", "hi")
    store.add_message("Ann", None, "group")
    assert store.erase_account("Bob")
    assert store.partners("ann") == {}


def test_accounts_by_prefix_in_name_order_and_pages(store):
    """A prefix matches in any case; `after` pages on; `limit` bounds the answer."""
    for name in ("alice", "Albert", "ALF", "bob", "al_x", "Zed"):
        store.remember_user(name)
    assert store.accounts_by_prefix("AL", None, 10) == ["al_x", "Albert", "ALF", "alice"]
    assert store.accounts_by_prefix("al", None, 2) == ["al_x", "Albert"]
    assert store.accounts_by_prefix("al", "albert", 2) == ["ALF", "alice"]
    assert store.accounts_by_prefix("al", "alice", 2) == []
    assert store.accounts_by_prefix("al", "a", 1) == ["al_x"]
    assert store.accounts_by_prefix("x", None, 5) == []
    assert store.accounts_by_prefix("zed", None, 5) == ["Zed"]
