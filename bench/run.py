"""`make bench`: the chat server beside two baselines, driven by one load generator.

Each round starts each server afresh on core 0 and runs the scenarios of `load.js` from
core 1; the table gives the median over the rounds. Results go to bench/results.json and
the chart to bench/chart.png. BENCH_ROUNDS (default 3) sets the number of rounds.
BENCH_SCENARIOS (default all) runs only some of them, comma-separated, of: idle (2,000
idle connections), direct (saturated and the in-flight sweep), group, stall, paced, many
(BENCH_MANY connections), rooms, scaling, conversations (GET /api/conversations of a user with
200 conversations over 1,000,000 messages, bench/conversations.py); such a run prints its
table and keeps no file.
"""

import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
SERVER_CORE, LOAD_CORE = "0", "1"
BIG = 65536  # bytes of the large message in the stall scenario
# Fixed rates of direct messages a second, each offered whatever the replies (open loop):
# the latency at a rate, where the closed-loop run gives the latency at saturation.
PACED_RATES = [int(r) for r in os.environ.get("BENCH_PACED_RATES", "5000,10000,15000,20000").split(",")]
# Messages in flight per sender of the direct runs (50 senders): the last is the saturated
# run of the table's first direct rows; all of them draw the rate against the p99. A server
# that batches needs messages in flight to batch, one that does not mostly needs none.
IN_FLIGHT = [int(n) for n in os.environ.get("BENCH_IN_FLIGHT", "1,2,4,8").split(",")]
P99_TARGET_MS = 20  # issue 6: direct p99 at most this, at the rate the targets ask for
P99_CEILING_MS = 100  # the p99 panels of the chart stop here
# The crowd rule of every server compared: presence is pushed while at most this many users
# are online (the chat server's CHAT_PRESENCE_LIMIT, which the baselines read too).
PRESENCE_LIMIT = int(os.environ.get("CHAT_PRESENCE_LIMIT", "1000"))
STORES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}  # the conversations scenario's, as the table names them
SCENARIOS = ("idle", "direct", "group", "stall", "paced", "many", "rooms", "scaling", "conversations")
# The room run: ROOMS rooms of ROOM_SIZE members and one of BIG_ROOM (the same users: each
# is in the big room and one small one), against the servers with rooms. How each server
# learns a connection's rooms: the chat server by its HTTP API before the connections
# open (log-ins and joins, not timed), the baseline from the connection's ?rooms=.
ROOMS, ROOM_SIZE, BIG_ROOM = 20, 500, 10_000
ROOM_SENDERS = 4  # in the big room; the small rooms' run has one sender in each
ROOM_JOIN = {"chat": "api", "websockets": "query"}
# A room of BIG_ROOM members must be allowed (the default allows 10,000 too; this says
# the bench needs it). Twenty-one rooms come from 20 users, and loopback is exempt from
# the per-address limits: no other setting is needed.
ROOM_ENV = {"CHAT_MAX_ROOM_MEMBERS": str(BIG_ROOM)}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Each scenario starts once the server is quiet (under this share of a core for half a
# second): the work one leaves behind, such as telling who is left that 2,000 users went,
# must not fall in the next one's measurement, where a slower server would pay for it twice.
QUIET_SHARE = 0.05
SETTLE_LIMIT_S = 60

# The chat server with its defaults (durable SQLite, one process) but for the checks that
# would refuse a benchmark: anyone may connect, no rate limit, and one message may fill a frame.
CHAT_ENV = {"CHAT_AUTH": "open", "CHAT_RATE_PER_SECOND": "1000000000", "CHAT_RATE_BURST": "1000000000",
            "CHAT_MAX_MESSAGE_CHARS": str(BIG), "CHAT_PRESENCE_LIMIT": str(PRESENCE_LIMIT)}
SERVERS = {
    "chat": [PYTHON, "wsgi.py"],
    "tutorial": [PYTHON, "bench/tutorial_server.py"],
    "websockets": [PYTHON, "bench/websockets_server.py"],
}
BASELINES = ("tutorial", "websockets")


_HANDED_OUT = set()  # ports free_port gave before: a server may not listen on them yet


def free_port():
    """A TCP port nobody listens on now, and not one this run was given before: the kernel
    may hand the same ephemeral port to two binds in a row (Redis, still starting, and the
    chat server started beside it could otherwise agree)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_for_port(port, proc, seconds=20):
    """Return once the server accepts connections; fail if it exits or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen in time")


class Server:
    """One server process pinned to SERVER_CORE, on a fresh port and data directory."""

    def __init__(self, kind, cores=SERVER_CORE, command=None, env=None):
        self.kind = kind
        self.port = free_port()
        self.data = tempfile.mkdtemp(prefix=f"bench-{kind}-")
        command = command or SERVERS[kind] + ([] if kind == "chat" else [str(self.port)])
        full_env = {**os.environ, **CHAT_ENV, "CHAT_PORT": str(self.port), "CHAT_DATA_DIR": self.data, **(env or {})}
        self.proc = subprocess.Popen(pinned(cores, command), cwd=ROOT, env=full_env,  # pylint: disable=consider-using-with
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)
        self.url = f"ws://127.0.0.1:{self.port}"

    def pids(self):
        """The server's process and its children (gunicorn's workers)."""
        return [self.proc.pid] + children(self.proc.pid)

    def rss_kib(self):
        """Resident memory of the server and its children, in KiB."""
        return sum(rss_of(pid) for pid in self.pids())

    def cpu_seconds(self):
        """CPU time the server and its children have used, in seconds."""
        return sum(cpu_of(pid) for pid in self.pids())

    def stop(self):
        """Stop the server and remove its data."""
        stop_process(self.proc)
        shutil.rmtree(self.data, ignore_errors=True)


def stop_process(proc):
    """Stop a server process: SIGTERM, then SIGKILL after 10 s (bench/soak.py uses it too)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def children(pid):
    """The direct children of a process."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def rss_of(pid):
    """VmRSS of a process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_of(pid):
    """CPU time (user and system) a process has used, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime and stime


def pinned(cores, command):
    """`command` run on `cores` by taskset; as it is when `cores` is None (not pinned)."""
    return (["taskset", "-c", cores] if cores else []) + command


def generator(server, scenario, cores, **options):
    """The command line of load.js running `scenario` with `options` against `server`."""
    return pinned(cores, ["node", str(HERE / "load.js"),
                          json.dumps({"url": server.url, "scenario": scenario, **options})])


def settle(server, window=0.5):
    """Wait until `server` is quiet (see QUIET_SHARE), at most SETTLE_LIMIT_S; the seconds waited."""
    started = time.monotonic()
    used = server.cpu_seconds()
    while True:
        time.sleep(window)
        waited, before, used = time.monotonic() - started, used, server.cpu_seconds()
        if used - before < QUIET_SHARE * window:
            return waited
        if waited > SETTLE_LIMIT_S:
            print(f"  the server was still busy after {waited:.0f} s: going on", file=sys.stderr)
            return waited


def load(server, scenario, cores=LOAD_CORE, **options):
    """Run one scenario of load.js against `server` once it is quiet and return its JSON result,
    with `server_cpu`: the server's busiest share of a core over the windows the scenario measured
    (`server_cpus`: each window's, in order)."""
    settle(server)
    shares, result = [], None
    with subprocess.Popen(generator(server, scenario, cores, **options), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            frame = json.loads(line)
            if frame.get("phase") == "measuring":
                started, used = time.monotonic(), server.cpu_seconds()
            elif frame.get("phase") == "measured":
                shares.append((server.cpu_seconds() - used) / (time.monotonic() - started))
            else:
                result = frame
        if proc.wait(300) != 0 or result is None:
            raise RuntimeError(f"load {scenario} failed: {proc.stderr.read().strip()}")
    result["server_cpu"] = max(shares, default=None)
    result["server_cpus"] = shares
    return result


def idle(server, n, cores=LOAD_CORE):
    """Connect n clients and hold them: a dict of `connect_s` (seconds to connect them all, or
    None), `kib_per_conn`, `connected` and `presence` (presence frames they received), once
    the server is quiet."""
    settle(server)
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        generator(server, "idle", cores, n=n), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(proc.stdout.readline())["phase"] == "warm"
        time.sleep(1)
        before = server.rss_kib()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"idle load with {n} clients failed")
        ready = json.loads(line)
        if ready["connect_s"] is None:
            refused = f" ({ready['refused']:,} closed by the server)" if ready["refused"] else ""
            print(f"  only {ready['connected']:,} of {n:,} connected within the limit{refused}", file=sys.stderr)
        time.sleep(2)  # presence and greetings settle
        after = server.rss_kib()
        proc.stdin.write("close\n")
        proc.stdin.flush()
        closing = json.loads(proc.stdout.readline())
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return {"connect_s": ready["connect_s"], "kib_per_conn": (after - before) / max(ready["connected"], 1),
            "connected": ready["connected"], "presence": closing["presence"]}


def one_round(kind, many, scenarios=SCENARIOS):
    """The `scenarios` against a fresh server of this kind (the many-connections run on another)."""
    result = {}
    if set(scenarios) & {"idle", "direct", "group", "stall", "paced"}:
        server = Server(kind)
        try:
            if "idle" in scenarios:
                crowd = idle(server, 2000)
                result.update(connect_2k_s=crowd["connect_s"], kib_per_conn=crowd["kib_per_conn"],
                              presence_2k=crowd["presence"])
            runs = {name: load(server, *args, **options) for name, *args, options in (
                ("direct", "direct", {"inflight": IN_FLIGHT[-1]}), ("group", "group", {}),
                ("stall", "stall", {"bytes": BIG})) if name in scenarios}
            if "paced" in scenarios:
                runs["paced"] = {rate: load(server, "paced", rate=rate) for rate in PACED_RATES}
            if "direct" in scenarios:
                # Last, so that the runs before meet the same server as in earlier versions of this table.
                runs["sweep"] = {n: load(server, "direct", inflight=n) for n in IN_FLIGHT[:-1]}
                runs["sweep"][IN_FLIGHT[-1]] = runs["direct"]
        finally:
            server.stop()
        result.update(figures(runs))
    if "many" in scenarios:
        server = Server(kind)  # a fresh process for the many-connections run
        try:
            crowd = idle(server, many)
            result.update(connect_many_s=crowd["connect_s"], kib_per_conn_many=crowd["kib_per_conn"],
                          connected_many=crowd["connected"], presence_many=crowd["presence"])
        except RuntimeError as exc:
            print(f"  {kind}: {exc}", file=sys.stderr)
            result.update(connect_many_s=None, kib_per_conn_many=None, connected_many=None, presence_many=None)
        finally:
            server.stop()
    if "rooms" in scenarios and kind in ROOM_JOIN:
        result.update(room_figures(room_run(kind)))
    return result


def room_run(kind, cores=SERVER_CORE, load_cores=LOAD_CORE, **options):
    """The room run of load.js against a fresh server of this kind (`options` change its shape)."""
    server = Server(kind, cores=cores, env=ROOM_ENV)
    try:
        return load(server, "rooms", cores=load_cores, **{"rooms": ROOMS, "size": ROOM_SIZE, "big": BIG_ROOM,
                                                          "senders": ROOM_SENDERS, "join": ROOM_JOIN[kind], **options})
    finally:
        server.stop()


def room_figures(run):
    """The table's figures of one room run: the small rooms' run, then the big room's."""
    small, big = run["small"], run["big"]
    small_cpu, big_cpu = run["server_cpus"]
    return {"rooms_small_per_s": small["per_second"], "rooms_small_p99_ms": small["p99_ms"],
            "rooms_big_per_s": big["per_second"], "rooms_big_p99_ms": big["p99_ms"],
            "rooms_connect_s": run["connect_s"], "rooms_setup_s": run["setup_s"],
            "rooms_small_load_cpu": small["load_cpu"], "rooms_small_server_cpu": small_cpu,
            "rooms_big_load_cpu": big["load_cpu"], "rooms_big_server_cpu": big_cpu,
            "rooms_errors": run["errors"] + run["strays"] + run["unheard"]}


def figures(runs):
    """The table's figures of the load runs of one round (those that ran)."""
    result, errors = {}, 0
    if "direct" in runs:
        direct = runs["direct"]
        result.update(direct_per_s=direct["per_second"], direct_p50_ms=direct["p50_ms"],
                      direct_p99_ms=direct["p99_ms"], direct_load_cpu=direct["load_cpu"],
                      direct_server_cpu=direct["server_cpu"])
        for n, run in runs["sweep"].items():
            result[f"direct_x{n}_per_s"], result[f"direct_x{n}_p99_ms"] = run["per_second"], run["p99_ms"]
            errors += run["errors"]
        result["direct_within_target_per_s"] = fastest_within_target(runs["sweep"].values())
    if "group" in runs:
        group = runs["group"]
        result.update(group_per_s=group["per_second"], group_p99_ms=group["p99_ms"],
                      group_load_cpu=group["load_cpu"], group_server_cpu=group["server_cpu"])
        errors += group["errors"]
    if "stall" in runs:
        stall = runs["stall"]
        result.update(stall_quiet_p99_ms=stall["quiet"]["p99_ms"], stall_busy_p99_ms=stall["busy"]["p99_ms"],
                      stall_busy_max_ms=stall["busy"]["max_ms"])
        errors += stall["errors"]
    for rate, run in runs.get("paced", {}).items():
        # Over 1% never heard (load.js waits 3 s past the last send): as late as can be.
        result[f"paced_{rate}_p99_ms"] = math.inf if run["p99_ms"] is None else run["p99_ms"]
        result[f"paced_{rate}_lag_p99_ms"] = run["send_lag_p99_ms"]
        errors += run["errors"]
    if runs:
        result["errors"] = errors
    return result


def fastest_within_target(runs):
    """The fastest rate among direct `runs` whose p99 is within P99_TARGET_MS; 0 when none is."""
    return max((run["per_second"] for run in runs if run["p99_ms"] <= P99_TARGET_MS), default=0)


def scaling():
    """Direct and group rates of gunicorn over Redis with 1 and 2 workers (no pinning: 2 cores)."""
    redis_port = free_port()
    redis_dir = tempfile.mkdtemp(prefix="bench-redis-")
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no",  # pylint: disable=consider-using-with
                              "--dir", redis_dir], stdout=subprocess.DEVNULL)
    figures = {}
    try:
        for workers in (1, 2):
            env = {"CHAT_WORKERS": str(workers), "CHAT_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
            server = Server("chat", cores=None, env=env,
                            command=[PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"])
            try:
                time.sleep(1)  # every worker booted
                figures[workers] = {"direct_per_s": load(server, "direct", cores=None)["per_second"],
                                    "group_per_s": load(server, "group", cores=None)["per_second"]}
            finally:
                server.stop()
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(redis_dir, ignore_errors=True)
    return figures


def medians(rounds):
    """The median of each figure over the rounds (figures a round could not give are left out)."""
    keys = rounds[0].keys()
    return {k: (statistics.median(v) if (v := [r[k] for r in rounds if r[k] is not None]) else None) for k in keys}


def machine():
    """A line naming the machine and the day."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d}")


ROWS = [  # (label, key, format, higher is better)
    ("memory per idle connection (KiB, 2,000 idle)", "kib_per_conn", "{:.1f}", False),
    ("time to connect 2,000 clients (s)", "connect_2k_s", "{:.2f}", False),
    (f"  presence frames received meanwhile (each server pushes them while at most "
     f"{PRESENCE_LIMIT:,} are online)", "presence_2k", "{:,.0f}", None),
    ("time to connect {many} clients (s; n/a: not all within 30 s)", "connect_many_s", "{:.2f}", False),
    ("  clients connected of {many}", "connected_many", "{:,.0f}", True),
    ("  memory per connection with {many} (KiB)", "kib_per_conn_many", "{:.1f}", False),
    ("  presence frames received meanwhile", "presence_many", "{:,.0f}", None),
    (f"direct messages/s (200 users, 50 senders x {IN_FLIGHT[-1]} in flight)", "direct_per_s", "{:,.0f}", True),
    ("  direct p50 latency (ms)", "direct_p50_ms", "{:.1f}", False),
    ("  direct p99 latency (ms)", "direct_p99_ms", "{:.1f}", False),
    (f"direct messages/s with p99 <= {P99_TARGET_MS} ms (the fastest of 50 senders x "
     f"{', '.join(map(str, IN_FLIGHT))} in flight; 0: none)", "direct_within_target_per_s", "{:,.0f}", True),
    ("group deliveries/s (500 users, 4 in flight)", "group_per_s", "{:,.0f}", True),
    ("  group p99 latency (ms)", "group_p99_ms", "{:.1f}", False),
    ("small round trip p99, quiet (ms)", "stall_quiet_p99_ms", "{:.1f}", False),
    ("small round trip p99, 64 KiB messages 10/s (ms)", "stall_busy_p99_ms", "{:.1f}", False),
    ("  its worst (ms)", "stall_busy_max_ms", "{:.1f}", False),
    *((f"direct p99 at {rate:,} messages/s, open loop (ms)", f"paced_{rate}_p99_ms", "{:.1f}", False)
      for rate in PACED_RATES),
    ("  the load generator's own lag at the highest rate, p99 (ms)", f"paced_{PACED_RATES[-1]}_lag_p99_ms",
     "{:.1f}", None),
    ("direct: the load generator's core busy (share)", "direct_load_cpu", "{:.2f}", None),
    ("  the server's core busy (share)", "direct_server_cpu", "{:.2f}", None),
    ("group: the load generator's core busy (share)", "group_load_cpu", "{:.2f}", None),
    ("  the server's core busy (share)", "group_server_cpu", "{:.2f}", None),
    (f"room deliveries/s, {ROOMS} rooms of {ROOM_SIZE:,} at once (a sender in each, 1 in flight; "
     f"chat and websockets only)", "rooms_small_per_s", "{:,.0f}", True),
    ("  its p99 latency (ms)", "rooms_small_p99_ms", "{:.1f}", False),
    (f"room deliveries/s, one room of {BIG_ROOM:,} ({ROOM_SENDERS} senders, 1 in flight)", "rooms_big_per_s",
     "{:,.0f}", True),
    ("  its p99 latency (ms)", "rooms_big_p99_ms", "{:.1f}", False),
    (f"  time to connect its {BIG_ROOM:,} members (s; the chat server's log-ins and joins before, "
     "not counted)", "rooms_connect_s", "{:.2f}", False),
    (f"rooms of {ROOM_SIZE:,}: the load generator's core busy (share)", "rooms_small_load_cpu", "{:.2f}", None),
    ("  the server's core busy (share)", "rooms_small_server_cpu", "{:.2f}", None),
    (f"room of {BIG_ROOM:,}: the load generator's core busy (share)", "rooms_big_load_cpu", "{:.2f}", None),
    ("  the server's core busy (share)", "rooms_big_server_cpu", "{:.2f}", None),
    ("room run: errors, deliveries to non-members, messages some member never had", "rooms_errors", "{:.0f}", None),
    ("errors", "errors", "{:.0f}", None),
]


def ratio(ours, theirs, higher_better):
    """How many times better the chat server is (>1 is better), as text."""
    if higher_better is None or ours in (None, 0, math.inf) or theirs in (None, 0, math.inf):
        return ""
    return f"{(ours / theirs) if higher_better else (theirs / ours):.2f}x"


def cell(fmt, value):
    """One figure of the table: n/a when a server could not give it, "lost" for messages never heard."""
    return "n/a" if value is None else "lost" if value == math.inf else fmt.format(value)


def table(results, many):
    """The Markdown table of medians and ratios (the rows of the scenarios that ran)."""
    head = "| | chat | tutorial | websockets | chat vs tutorial | chat vs websockets |\n|---|---|---|---|---|---|\n"
    lines = []
    for label, key, fmt, better in ROWS:
        if key not in results["chat"]:
            continue
        cells = [cell(fmt, results[k].get(key)) for k in SERVERS]  # the tutorial has no room figures
        lines.append(f"| {label.format(many=f'{many:,}')} | " + " | ".join(cells) + " | "
                     + " | ".join(ratio(results["chat"][key], results[b].get(key), better) for b in BASELINES) + " |")
    return head + "\n".join(lines) + "\n"


def chart(results, scale, title, path):
    """Bars of the headline figures, each server beside the others."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    panels = [("direct messages/s", "direct_per_s"), ("group deliveries/s", "group_per_s"),
              (f"deliveries/s, a room of {BIG_ROOM:,}", "rooms_big_per_s"),
              ("KiB per idle connection", "kib_per_conn"), ("direct p99 (ms), saturated", "direct_p99_ms")]
    fig, axes = plt.subplots(1, len(panels) + 3, figsize=(26, 3.8))
    colors = ["#2b6cb0", "#a0aec0", "#718096"]
    for ax, (label, key) in zip(axes, panels):
        values = [results[k].get(key) or 0 for k in SERVERS]  # the tutorial has no room run
        ax.bar(list(SERVERS), values, color=colors)
        ax.set_title(label, fontsize=10)
        for i, value in enumerate(values):
            ax.text(i, value, f"{value:,.0f}" if value >= 100 else f"{value:.1f}", ha="center", va="bottom", fontsize=8)
    rate_against_p99(axes[-3], results, colors)
    latency_curves(axes[-2], results, colors)
    ax = axes[-1]
    ax.bar(["1 worker", "2 workers"], [scale[1]["direct_per_s"], scale[2]["direct_per_s"]], color=colors[:2])
    ax.set_title("chat direct msgs/s, gunicorn + Redis", fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def rate_against_p99(ax, results, colors):
    """The closed-loop direct runs: messages/s against p99, one line a server, a point for
    each number in flight per sender (labelled on the chat server's line)."""
    for kind, color in zip(SERVERS, colors):
        rates = [results[kind][f"direct_x{n}_per_s"] for n in IN_FLIGHT]
        p99s = [min(results[kind][f"direct_x{n}_p99_ms"], P99_CEILING_MS) for n in IN_FLIGHT]
        ax.plot(rates, p99s, marker="o", color=color, label=kind)
        if kind == "chat":
            for n, rate, p99 in zip(IN_FLIGHT, rates, p99s):
                ax.annotate(f"x{n}", (rate, p99), fontsize=7, textcoords="offset points", xytext=(3, 3))
    p99_axes(ax, "p99 (ms) by direct msgs/s, closed loop")


def latency_curves(ax, results, colors):
    """Direct p99 against the offered rate, one line a server; off the top: lost or over the ceiling."""
    for kind, color in zip(SERVERS, colors):
        values = [min(results[kind][f"paced_{rate}_p99_ms"] or P99_CEILING_MS, P99_CEILING_MS)
                  for rate in PACED_RATES]
        ax.plot(PACED_RATES, values, marker="o", color=color, label=kind)
    p99_axes(ax, "direct p99 (ms) at a fixed rate/s")


def p99_axes(ax, title):
    """A p99 panel's frame: the target as a dashed line, the ceiling at the top, the legend."""
    ax.axhline(P99_TARGET_MS, color="#c53030", linewidth=0.8, linestyle="--")
    ax.set_ylim(0, P99_CEILING_MS * 1.05)
    ax.set_title(f"{title} (top: {P99_CEILING_MS}+)", fontsize=9)
    ax.legend(fontsize=7)


def chosen_scenarios():
    """The scenarios BENCH_SCENARIOS names (all by default); exits on a name it does not know."""
    names = [n.strip() for n in os.environ.get("BENCH_SCENARIOS", ",".join(SCENARIOS)).split(",") if n.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown or not names:
        sys.exit(f"BENCH_SCENARIOS: unknown {', '.join(unknown) or '(none given)'}; of {', '.join(SCENARIOS)}")
    return tuple(n for n in SCENARIOS if n in names)


def main():
    """Run the rounds, print the table, save results and chart (a whole run only)."""
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    many = int(os.environ.get("BENCH_MANY", "15000"))
    scenarios = chosen_scenarios()
    per_kind = {kind: [] for kind in SERVERS}
    for number in range(1, rounds + 1 if set(scenarios) - {"scaling", "conversations"} else 1):
        for kind in SERVERS:
            print(f"round {number}/{rounds}: {kind}", file=sys.stderr, flush=True)
            per_kind[kind].append(one_round(kind, many, scenarios))
            print(f"  {json.dumps(per_kind[kind][-1])}", file=sys.stderr, flush=True)
    results = {kind: medians(runs) if runs else {} for kind, runs in per_kind.items()}
    scale = None
    if "scaling" in scenarios:
        print("scaling: gunicorn over Redis, 1 and 2 workers", file=sys.stderr, flush=True)
        scale = scaling()
    listing = None
    if "conversations" in scenarios:
        print("conversations: GET /api/conversations over a long history", file=sys.stderr, flush=True)
        from conversations import conversations  # pylint: disable=import-outside-toplevel
        listing = conversations(Server)
    about = machine()
    text = f"Medians of {rounds} rounds; {about}; servers on core {SERVER_CORE}, load on core {LOAD_CORE}.\n\n"
    if results["chat"]:
        text += table(results, many)
    if scale:
        text += (f"\nScaling (gunicorn + Redis, nothing pinned, load on the same 2 cores): direct messages/s "
                 f"1 worker {scale[1]['direct_per_s']:,.0f}, 2 workers {scale[2]['direct_per_s']:,.0f}; "
                 f"group deliveries/s 1 worker {scale[1]['group_per_s']:,.0f}, 2 workers {scale[2]['group_per_s']:,.0f}.\n")
    if listing:
        text += "\n"
    for store, figures in (listing or {}).items():
        text += (f"GET /api/conversations, {figures['conversations']} conversations over "
                 f"{figures['messages']:,} messages ({STORES[store]}): median {figures['median_ms']} ms, "
                 f"p99 {figures['p99_ms']} ms.\n")
    print(text)
    if scenarios != SCENARIOS:
        print(f"(scenarios {', '.join(scenarios)} only: bench/results.json and bench/chart.png are left as they were)",
              file=sys.stderr)
        return
    (HERE / "results.json").write_text(json.dumps({"machine": about, "rounds": per_kind, "medians": results,
                                                   "scaling": scale, "conversations": listing,
                                                   "table": text}, indent=1) + "\n")
    chart(results, scale, f"make bench: medians of {rounds} rounds ({about})", HERE / "chart.png")


if __name__ == "__main__":
    main()
