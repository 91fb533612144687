"""The SQLite database: its connections' settings, its schema and the migrations to it."""

import os
import sqlite3
import time

from ...errors import SettingsError
from ..accounts import migrate_accounts
from ..changes import migrate_changes
from ..markers import migrate_markers
from ..rooms import migrate_rooms
from .tallies import DROP_TRIGGER, migrate_tallies
from .writing import transaction

SCHEMA_VERSION = 11


def private_file(path):
    """Create the database file `path` mode 0600 if it is not there (SQLite gives its WAL and
    shared-memory files the same mode), and make a file of ours 0600 if it was more open."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)


BUSY_TIMEOUT = 10  # seconds a connection waits for another's lock


def use_wal(conn, schema="main"):
    """Put the database `schema` of `conn` in WAL mode (it stays so). A new file's switch
    takes a lock for which SQLite's busy timeout does not wait: workers starting at once
    try again."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute(f"PRAGMA {schema}.journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            # The low byte is the primary code: SQLITE_BUSY_RECOVERY and the like are busy too.
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def connect(path):
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    use_wal(conn)
    conn.execute("PRAGMA synchronous=FULL")  # an acknowledgement survives power loss too
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT * 1000}")
    # Freed space is zeroed: a deleted message's text stays in no free page or cell.
    conn.execute("PRAGMA secure_delete=ON")
    # Checkpoint every 10,000 pages (40 MiB of WAL), not 1,000: an index page rewritten by
    # many commits in between is copied into the database once.
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    return conn


MIGRATIONS = {
    1: """
    CREATE TABLE users (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        from_key TEXT NOT NULL,
        from_user TEXT NOT NULL,
        to_key TEXT,
        to_user TEXT,
        msg TEXT NOT NULL,
        ts REAL NOT NULL,
        cid TEXT
    );
    CREATE UNIQUE INDEX messages_cid ON messages (from_key, cid) WHERE cid IS NOT NULL;
    CREATE INDEX messages_to ON messages (to_key, id);
    CREATE INDEX messages_from ON messages (from_key, id) WHERE to_key IS NOT NULL;
    CREATE INDEX messages_ts ON messages (ts);
    """,
    2: "ALTER TABLE users ADD COLUMN password_hash TEXT;",
    3: """
    DROP INDEX messages_to;
    DROP INDEX messages_from;
    CREATE TABLE mailbox (key TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
    CREATE TABLE mailbox_filled (upto INTEGER NOT NULL);
    INSERT INTO mailbox_filled (upto) VALUES (0);
    """,
    4: "DROP TABLE mailbox; DROP TABLE mailbox_filled;",  # moved to a file of its own
    # Each commit wrote a leaf of this index too; a prune finds its old messages by id
    # instead (see `_prune`).
    5: "DROP INDEX messages_ts;",
    6: lambda conn: migrate_accounts(conn, "?", "REAL"),
    7: lambda conn: migrate_rooms(conn, "REAL"),  # the mailbox indexes rooms (mailbox.ENTRIES)
    8: lambda conn: migrate_changes(conn, "REAL"),
    9: migrate_markers,  # read markers and the tallies that keep unread counts (markers.py)
    10: DROP_TRIGGER,  # SQLite counts the newest messages in bulk (tallies.py)
    11: migrate_tallies,
}


def truncate_log(path):
    """Copy the WAL into the database and empty it, on a connection of its own: the old
    page images in it (a deleted message's text among them) are gone. True when done,
    False when a reader kept it from finishing (try again later)."""
    conn = connect(path)
    try:
        return conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def _statements(script):
    """The statements of an SQL script, one by one (execute runs one at a time, and
    executescript would commit the transaction it runs in)."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):  # not a ";" inside a string or a trigger
            if statement.strip(" \n;"):
                yield statement
            statement = ""
    if statement.strip(" \n;"):
        yield statement  # unfinished: execute says what is wrong with it


def _migrate(conn, step):
    """Take the database to schema version `step` in one transaction, unless another
    process (a second worker starting beside this one) already has."""
    with transaction(conn, "BEGIN IMMEDIATE"):
        if conn.execute("PRAGMA user_version").fetchone()[0] >= step:
            return
        if callable(MIGRATIONS[step]):
            MIGRATIONS[step](conn)
        else:
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={step}")


def open_database(path):
    """Open (creating and migrating) the database at `path`; SettingsError when unusable."""
    where = f"CHAT_DATABASE_URL: {path}"
    try:
        private_file(path)
        conn = connect(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SettingsError(f"{where} has schema version {version}, newer than this "
                                f"server's {SCHEMA_VERSION}: upgrade the server")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            _migrate(conn, step)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise SettingsError(f"{where} cannot be used: {exc}") from None
    return conn
