"""The `conversations` scenario of `make bench`: GET /api/conversations over a long history.

A SQLite database of MESSAGES messages (the store's own schema and triggers, written in
bulk before the server starts, not timed), of which one user's CONVERSATIONS
conversations (the group, rooms, direct ones) hold a share; then that user's list is
asked for REQUESTS times over one keep-alive connection, and the median and p99 of the
answers' times are reported.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.storage.sqlite.mailbox import open_mailbox  # noqa: E402  pylint: disable=wrong-import-position
from chat.storage.sqlite.schema import open_database  # noqa: E402  pylint: disable=wrong-import-position

MESSAGES = int(os.environ.get("BENCH_CONVERSATION_MESSAGES", "1000000"))
CONVERSATIONS = 200  # the group, ROOMS rooms and the rest direct
ROOMS = 20
OTHERS = 2000  # users who write to each other, not to the one whose list is read
REQUESTS = 300
BATCH = 20_000
INSERT = ("INSERT INTO messages (from_key, from_user, to_key, to_user, msg, ts, room_key, room) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def build(data_dir):
    """The database: 'me', its rooms and peers, and MESSAGES messages; its mailbox filled at open."""
    conn = open_database(os.path.join(data_dir, "chat.db"))
    conn.execute("PRAGMA synchronous=OFF")
    peers = [f"peer{i}" for i in range(CONVERSATIONS - 1 - ROOMS)]
    rooms = [f"room{i}" for i in range(ROOMS)]
    others = [f"other{i}" for i in range(OTHERS)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO users (key, name, created, skeleton) VALUES (?, ?, 0, ?)",
                     [(n, n, n) for n in ["me", *peers, *others]])
    conn.executemany("INSERT INTO rooms (key, name, skeleton, private, topic, created_by, created) "
                     "VALUES (?, ?, ?, 0, '', 'me', 0)", [(r, r, r) for r in rooms])
    conn.executemany("INSERT INTO members (room_key, user_key) VALUES (?, ?)",
                     [(r, u) for r in rooms for u in ("me", "other0", "other1")])
    conn.execute("COMMIT")
    now = time.time() - MESSAGES / 1000
    for start in range(0, MESSAGES, BATCH):
        rows = [_row(n, peers, rooms, others, now + n / 1000) for n in range(start, min(start + BATCH, MESSAGES))]
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
    conn.close()
    open_mailbox(os.path.join(data_dir, "chat.db"))[0].close()  # indexed now: the server opens at once


def _row(n, peers, rooms, others, ts):  # pylint: disable=too-many-arguments
    """Message n: a tenth in 'me''s conversations (some sent by 'me'), the rest between others."""
    text = f"message {n} of the benchmark, about sixty-four characters long...."
    kind = n % 10
    if kind == 0:
        peer = peers[n // 10 % len(peers)]
        sender, to = (("me", peer) if n % 3 == 0 else (peer, "me"))
        return (sender, sender, to, to, text, ts, None, None)
    if kind == 1:
        room = rooms[n // 10 % len(rooms)]
        return ("other0", "other0", None, None, text, ts, room, room)
    if kind == 2:
        return ("other1", "other1", None, None, text, ts, None, None)
    a, b = others[n % OTHERS], others[(n * 7 + 1) % OTHERS]
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
    """Build the database, serve it with `server_class` ("chat"), measure; the figures."""
    data = tempfile.mkdtemp(prefix="bench-conversations-")
    try:
        began = time.monotonic()
        build(data)
        built = time.monotonic() - began
        server = server_class("chat", env={"CHAT_DATA_DIR": data})
        try:
            median, p99, listed = measure(server.port)
        finally:
            server.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return {"messages": MESSAGES, "conversations": listed, "median_ms": round(median, 2), "p99_ms": round(p99, 2),
            "build_s": round(built, 1)}
