"""The `conversations` scenario of `make bench`: GET /api/conversations over a long history.

A database of MESSAGES messages (the store's own schema and triggers, written in bulk
before the server starts, not timed), of which one user's CONVERSATIONS conversations
(the group, rooms, direct ones) hold a share; then that user's list is asked for
REQUESTS times over one keep-alive connection, and the median and p99 of the answers'
times are reported. Once over SQLite, once over a PostgreSQL server of its own (the
tests' throwaway cluster: fsync off, which a read-only load does not feel).
"""

import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from backends import PostgresServer  # noqa: E402  pylint: disable=wrong-import-position,import-error
from chat.storage.postgres import migrate  # noqa: E402  pylint: disable=wrong-import-position
from chat.storage.sqlite.mailbox import open_mailbox  # noqa: E402  pylint: disable=wrong-import-position
from chat.storage.sqlite.schema import open_database  # noqa: E402  pylint: disable=wrong-import-position

MESSAGES = int(os.environ.get("BENCH_CONVERSATION_MESSAGES", "1000000"))
CONVERSATIONS = 200  # the group, the rooms and the rest direct
ROOMS = [f"room{i}" for i in range(20)]
PEERS = [f"peer{i}" for i in range(CONVERSATIONS - 1 - len(ROOMS))]
OTHERS = [f"other{i}" for i in range(2000)]  # who write to each other, not to the one whose list is read
REQUESTS = 300
START = time.time()  # the newest message's time, about now
BATCH = 20_000
# PostgreSQL's trigger updates a tally row a message. Commits of a few hundred, as the
# server's group commit makes, let each page prune the row's old versions (HOT); in
# commits of 20,000 they pile up until a vacuum, and the list reads through them.
PG_BATCH = 500
_COLUMNS = "from_key, from_user, to_key, to_user, msg, ts, room_key, room"
INSERT = f"INSERT INTO messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
COPY = f"COPY messages ({_COLUMNS}) FROM STDIN"


def build_sqlite(data_dir):
    """The SQLite database in `data_dir`; its mailbox filled at open. The server's settings."""
    path = os.path.join(data_dir, "chat.db")
    conn = open_database(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    _people(conn, "?")
    conn.execute("COMMIT")
    for rows in _batches():
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
    conn.close()
    open_mailbox(path)[0].close()  # indexed now: the server opens at once
    return {"CHAT_DATA_DIR": data_dir}


def build_postgresql(url, data_dir):
    """The same rows in the PostgreSQL database at `url`. The server's settings."""
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            _people(conn, "%s")
        for rows in _batches(PG_BATCH):
            with conn.transaction(), conn.cursor().copy(COPY) as copy:
                for row in rows:
                    copy.write_row(row)
    return {"CHAT_DATA_DIR": data_dir, "CHAT_DATABASE_URL": url}


def _people(conn, param):
    """'me', its rooms (with two others in each) and peers, and the others."""
    marks = ", ".join([param] * 3)
    conn.cursor().executemany(f"INSERT INTO users (key, name, created, skeleton) VALUES ({param}, {param}, 0, {param})",
                              [(n, n, n) for n in ["me", *PEERS, *OTHERS]])
    conn.cursor().executemany("INSERT INTO rooms (key, name, skeleton, private, topic, created_by, created) "
                              f"VALUES ({marks}, 0, '', 'me', 0)", [(r, r, r) for r in ROOMS])
    conn.cursor().executemany(f"INSERT INTO members (room_key, user_key) VALUES ({param}, {param})",
                              [(r, u) for r in ROOMS for u in ("me", "other0", "other1")])


def _batches(size=BATCH):
    """The MESSAGES rows, `size` at a time: the same rows, times too, on every call."""
    first = START - MESSAGES / 1000
    for start in range(0, MESSAGES, size):
        yield [_row(n, first + n / 1000) for n in range(start, min(start + size, MESSAGES))]


def _row(n, ts):
    """Message n: a tenth in 'me''s conversations (some sent by 'me'), the rest between others."""
    text = f"message {n} of the benchmark, about sixty-four characters long...."
    kind = n % 10
    if kind == 0:
        peer = PEERS[n // 10 % len(PEERS)]
        sender, to = (("me", peer) if n % 3 == 0 else (peer, "me"))
        return (sender, sender, to, to, text, ts, None, None)
    if kind == 1:
        room = ROOMS[n // 10 % len(ROOMS)]
        return ("other0", "other0", None, None, text, ts, room, room)
    if kind == 2:
        return ("other1", "other1", None, None, text, ts, None, None)
    a, b = OTHERS[n % len(OTHERS)], OTHERS[(n * 7 + 1) % len(OTHERS)]
    return (a, a, b, b, text, ts, None, None)


def measure(port):
    """(median ms, p99 ms, conversations listed) of GET /api/conversations as 'me'."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/token", json.dumps({"name": "me"}), {"Content-Type": "application/json"})
    token = json.loads(conn.getresponse().read())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    times, listed = [], 0
    for _ in range(REQUESTS + 20):
        began = time.perf_counter()
        conn.request("GET", "/api/conversations", headers=headers)
        body = conn.getresponse().read()
        times.append((time.perf_counter() - began) * 1000)
        listed = len(json.loads(body)["conversations"])
    conn.close()
    times = sorted(times[20:])  # the first answers warm the caches
    return statistics.median(times), times[int(len(times) * 0.99) - 1], listed


def conversations(server_class):
    """Build each database, serve it with `server_class` ("chat"), measure: the figures by store."""
    postgres = PostgresServer()
    try:
        postgres.start()
        return {"sqlite": _one_store(server_class, build_sqlite),
                "postgresql": _one_store(server_class, lambda data: build_postgresql(postgres.url, data))}
    finally:
        postgres.stop()


def _one_store(server_class, build):
    """Build with `build(data_dir)` (the server's settings back), serve, measure."""
    data = tempfile.mkdtemp(prefix="bench-conversations-")
    try:
        began = time.monotonic()
        env = build(data)
        built = time.monotonic() - began
        server = server_class("chat", env=env)
        try:
            median, p99, listed = measure(server.port)
        finally:
            server.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return {"messages": MESSAGES, "conversations": listed, "median_ms": round(median, 2), "p99_ms": round(p99, 2),
            "build_s": round(built, 1)}
