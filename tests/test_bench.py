"""`make bench`'s own parts, briefly, against the three servers it compares.

The load generator (bench/load.js) must speak to each server and count what it delivers,
and the runner (bench/run.py) must start them, read their memory and CPU, and turn the
rounds into the table's medians and ratios: a generator that stopped understanding a
server's frames would print a table of zeros, or of nothing measured. Sizes are checked,
never speeds: the figures are the benchmark's job.
"""

import importlib.util
import json
import math

import pytest
import websocket

from liveserver import ROOT

SPEC = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
run = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(run)

SMALL = {"cores": None, "seconds": 0.5}  # unpinned: a test must not depend on the core count


@pytest.fixture(scope="module", params=["chat", "tutorial", "websockets"])
def bench_server(request):
    """One server of each kind, as `make bench` starts it (the chat server with bench settings)."""
    server = run.Server(request.param, cores=None)
    yield server
    server.stop()


def test_direct_run_counts_deliveries(bench_server):
    result = run.load(bench_server, "direct", users=20, senders=4, inflight=2, **SMALL)
    assert result["errors"] == 0
    assert result["count"] > 0 and result["per_second"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["server_cpu"] > 0  # read from the server's process while the run measured


def test_fixed_rate_hears_every_message(bench_server):
    result = run.load(bench_server, "paced", users=20, senders=4, rate=200, grace_s=5, **SMALL)
    assert result["errors"] == 0
    assert result["count"] == 100 and result["heard_share"] == 1.0  # half a second after the warm-up
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]


def test_group_run_counts_deliveries(bench_server):
    result = run.load(bench_server, "group", users=10, senders=2, **SMALL)
    assert result["errors"] == 0
    assert result["count"] > 0 and result["p99_ms"] <= result["max_ms"]


def test_stall_run_sends_big_messages_between_small_ones(bench_server):
    result = run.load(bench_server, "stall", pairs=2, bytes=run.BIG, **SMALL)
    assert result["errors"] == 0
    assert result["big_received"] > 0
    assert result["quiet"]["count"] > 0 and result["busy"]["count"] > 0


def test_idle_run_connects_everyone(bench_server):
    n = 50
    crowd = run.idle(bench_server, n, cores=None)
    assert crowd["connected"] == n and crowd["connect_s"] is not None and crowd["connect_s"] > 0
    # Under the presence limit each arrival is pushed to everyone already there: of each pair
    # of clients, the first hears of the second, and perhaps the second of the first.
    assert n * (n - 1) // 2 <= crowd["presence"] <= n * (n - 1)


@pytest.mark.parametrize("kind", ["chat", "tutorial", "websockets"])
def test_every_server_stops_pushing_presence_past_the_limit(kind):
    # The benchmark compares the same work: the baselines keep the chat server's crowd rule.
    limit, n = 10, 30
    server = run.Server(kind, cores=None, env={"CHAT_PRESENCE_LIMIT": str(limit)})
    try:
        crowd = run.idle(server, n, cores=None)
    finally:
        server.stop()
    assert crowd["connected"] == n
    # At most the first `limit` arrivals are pushed, each to at most everyone else; pushing
    # them all would take at least n * (n - 1) / 2 = 435 frames.
    assert crowd["presence"] <= limit * (n - 1)


@pytest.mark.parametrize("kind", sorted(run.ROOM_JOIN))
def test_room_run_delivers_to_each_rooms_members_only(kind):
    # Two rooms of 3 and one of 6 (the same six users): the chat server learns them through
    # its HTTP API, the baseline from ?rooms=. A delivery to a non-member is a stray; a
    # message some member never had stalls its sender's loop, and is counted as unheard.
    rooms, size, big, senders = 2, 3, 6, 2
    result = run.room_run(kind, cores=None, load_cores=None, rooms=rooms, size=size, big=big, senders=senders,
                          seconds=0.5)
    assert result["members"] == big and result["errors"] == 0 and result["strays"] == 0 and result["unheard"] == 0
    # At least two messages of every sender heard by all the others of its room.
    assert result["small"]["count"] >= 2 * rooms * (size - 1)
    assert result["big"]["count"] >= 2 * senders * (big - 1)
    for phase in ("small", "big"):
        assert 0 < result[phase]["p50_ms"] <= result[phase]["p99_ms"] <= result[phase]["max_ms"]
    figures = run.room_figures(result)
    assert figures["rooms_small_server_cpu"] > 0 and figures["rooms_big_server_cpu"] > 0
    assert figures["rooms_errors"] == 0


def test_the_table_leaves_the_room_rows_of_the_tutorial_empty():
    # The tutorial has no rooms: its cells say n/a, and the chat server is compared with websockets only.
    results = {"chat": {"rooms_big_per_s": 30_000.0}, "tutorial": {}, "websockets": {"rooms_big_per_s": 15_000.0}}
    row = next(line for line in run.table(results, 15_000).splitlines() if "one room of" in line)
    assert row.endswith("| 30,000 | n/a | 15,000 |  | 2.00x |")


def test_fastest_rate_within_the_p99_target():
    runs = [{"per_second": 15_000, "p99_ms": 7.0}, {"per_second": 25_000, "p99_ms": run.P99_TARGET_MS},
            {"per_second": 30_000, "p99_ms": run.P99_TARGET_MS + 0.1}]
    assert run.fastest_within_target(runs) == 25_000  # the target itself counts as within it
    assert run.fastest_within_target(runs[2:]) == 0  # none within: 0, as the table prints it


def test_ratios_say_how_many_times_better_the_chat_server_is():
    assert run.ratio(30_000, 15_000, True) == "2.00x"  # a rate: higher is better
    assert run.ratio(10.0, 20.0, False) == "2.00x"  # a latency: lower is better
    # Nothing to compare with: a figure a server could not give, never heard, or not a contest.
    assert run.ratio(None, 1, True) == run.ratio(5, math.inf, False) == run.ratio(1, 2, None) == ""


def test_medians_leave_out_what_a_round_could_not_give():
    rounds = [{"rate": 1, "connect_s": None}, {"rate": 3, "connect_s": None}, {"rate": 2, "connect_s": 7.5}]
    assert run.medians(rounds) == {"rate": 2, "connect_s": 7.5}
    assert run.medians([{"connect_s": None}]) == {"connect_s": None}


@pytest.mark.parametrize("kind", ["chat", "tutorial", "websockets"])
def test_every_server_bounds_the_greeting_past_the_limit(kind):
    # The same rule everywhere: past the limit a hello names the user (and their own
    # people; strangers here) and says online_complete false.
    server = run.Server(kind, cores=None, env={"CHAT_PRESENCE_LIMIT": "2"})
    opened = []
    try:
        for i in range(4):
            opened.append(websocket.create_connection(f"{server.url}/ws/crowd{i}", timeout=10))
            hello = json.loads(opened[-1].recv())
        assert hello["online"] == ["crowd3"] and hello["online_complete"] is False
    finally:
        for conn in opened:
            conn.close()
        server.stop()


def test_conversations_run_lists_them_all_on_both_stores(monkeypatch):
    """The conversations scenario builds the same history in SQLite and PostgreSQL, and the
    user's list has every one of its conversations on both: a build that lost its rooms or
    peers would time a shorter list."""
    spec = importlib.util.spec_from_file_location("bench_conversations", ROOT / "bench" / "conversations.py")
    conversations = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conversations)
    monkeypatch.setattr(conversations, "MESSAGES", 3000)
    monkeypatch.setattr(conversations, "REQUESTS", 5)
    figures = conversations.conversations(run.Server)
    assert set(figures) == {"sqlite", "postgresql"}
    for store in figures.values():
        assert store["conversations"] == conversations.CONVERSATIONS
        assert 0 < store["median_ms"] <= store["p99_ms"]
