"""Real server processes on free ports and real WebSocket clients, for tests and tools."""

import ctypes
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import websocket

ROOT = Path(__file__).resolve().parent.parent
SCALE = float(os.environ.get("CHAT_TEST_TIMEOUT_SCALE", "1"))


def timeout(seconds):
    """A timeout scaled by CHAT_TEST_TIMEOUT_SCALE (slow machines set it above 1)."""
    return seconds * SCALE


def eventually(check, seconds=5):
    """Poll `check` until it is true; fail after `seconds`."""
    deadline = time.monotonic() + timeout(seconds)
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def log_lines(srv, *needles):
    """The server's log lines, once each of `needles` is in one of them (fails after 10 s)."""
    deadline = time.monotonic() + timeout(10)
    while True:
        lines = srv.log().splitlines()
        if all(any(needle in line for line in lines) for needle in needles):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"no line with each of {needles} in:\n{srv.log()}")
        time.sleep(0.05)


def bearer(srv, user):
    """The Authorization header of `user`."""
    return {"Authorization": f"Bearer {srv.token(user)}"}


def synced(srv, clients, *users):
    """A synced socket for each of `users` on `srv`, closed by the `clients` fixture."""
    sockets = [clients(srv.connect(user)) for user in users]
    for client in sockets:
        client.sync()
    return sockets


_HANDED_OUT = set()  # ports free_port gave before: nobody may listen on them yet


def free_port():
    """A TCP port nobody listens on right now, and not one this process was given before.

    The kernel may hand the same ephemeral port to two binds in a row once the first
    socket is closed, so two calls before either port is listened on could agree."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


_TOKENS = {}  # (database, name) -> the token of its first log-in


class Server:
    """A real server process (`python wsgi.py` or gunicorn) on a free port."""

    def __init__(self, data_dir, env=None, gunicorn=False, root=ROOT):
        self.port = free_port()
        self.root = root  # the checkout it runs from
        self.data_dir = Path(data_dir)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log_path = self.data_dir / "server.log"
        self.env = {**os.environ, "CHAT_PORT": str(self.port), "CHAT_DATA_DIR": str(self.data_dir),
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        self.command = ([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
                        if gunicorn else [sys.executable, "wsgi.py"])
        self.proc = None

    def start(self):
        """Start the process and wait until /healthz says it is ready (200)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(self.command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline, answer = time.monotonic() + timeout(20), "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, body, _ = self.get("/healthz")
                if status == 200:
                    return self
                answer = f"/healthz said {status} {body}"
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server was not ready in time ({answer}):\n{self.log()}")

    def stop(self):
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_kb(self):
        """Resident memory of the server process, in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def socket_option(self, client, level, option, size=None):
        """The server side's `option` on the TCP connection of `client` (a connected socket):
        an int, or `size` bytes when given.

        Borrows the server's descriptor with pidfd_getfd (Linux 5.6 and later).
        """
        fd = _fd_of(self.proc.pid, _server_inode(client))
        if fd is None:
            raise LookupError(f"the server holds no socket connected to port {client.getsockname()[1]}")
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            borrowed = _pidfd_getfd(pidfd, fd)
        finally:
            os.close(pidfd)
        with socket.socket(fileno=borrowed) as sock:
            return sock.getsockopt(level, option) if size is None else sock.getsockopt(level, option, size)

    def request(self, method, path, body=None, headers=None, raw=None):
        """An HTTP request with a JSON `body` (or `raw` bytes); returns (status, parsed JSON or text, headers)."""
        data = json.dumps(body).encode() if body is not None else raw
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if body is not None and "Content-Type" not in (headers or {}):
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout(10)) as resp:
                return resp.status, _parse(resp.read()), resp.headers
        except urllib.error.HTTPError as err:
            return err.code, _parse(err.read()), err.headers

    def get(self, path, headers=None):
        """GET `path`; returns (status, body, headers)."""
        return self.request("GET", path, headers=headers)

    def token(self, name):
        """A token for `name` from POST /api/token, the first time; then the same token
        (a guest's name is held by its session: a second log-in is name_taken)."""
        key = (self.env.get("CHAT_DATABASE_URL") or str(self.data_dir), unicodedata.normalize("NFC", name).casefold())
        if key not in _TOKENS:
            status, body, _ = self.request("POST", "/api/token", {"name": name})
            assert status == 200, body
            _TOKENS[key] = body["token"]
        return _TOKENS[key]

    def connect(self, name, since=None, token=True, **options):
        """A logged-in Client on /ws/<name>."""
        query = {}
        if token:
            query["token"] = self.token(name) if token is True else token
        if since is not None:
            query["since"] = since
        path = f"/ws/{urllib.parse.quote(name)}"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        return Client(self.ws_url + path, **options)


_ESTABLISHED = "01"  # the `st` column of /proc/net/tcp


def workers_of(srv):
    """The pids of a gunicorn master's workers."""
    out = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in out.split()]


def _server_inode(client):
    """The inode of the server's end of `client`'s connection (a connected IPv4 socket on
    127.0.0.1), found by the two ports in /proc/net/tcp."""
    ends = (f"0100007F:{client.getpeername()[1]:04X}", f"0100007F:{client.getsockname()[1]:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        # Only an established one: an earlier connection between the same ports may linger
        # in TIME_WAIT, listed with the inode 0.
        if (fields[1], fields[2]) == ends and fields[3] == _ESTABLISHED:
            return fields[9]
    raise LookupError(f"the server's end of the connection from port {client.getsockname()[1]} is not established")


def holder_of(client, pids):
    """Which of the processes `pids` (a server's workers) holds the server end of `client`'s
    connection (a connected socket); LookupError if none does."""
    inode = _server_inode(client)
    for pid in pids:
        if _fd_of(pid, inode) is not None:
            return pid
    raise LookupError(f"none of the processes {sorted(pids)} holds the socket {inode}")


def _fd_of(pid, inode):
    """The descriptor by which process `pid` holds the socket `inode`, or None."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return int(fd)
        except FileNotFoundError:  # closed while we looked
            continue
    return None


def _pidfd_getfd(pidfd, fd):
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    borrowed = syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd on x86-64 and arm64
    if borrowed < 0:
        raise OSError(ctypes.get_errno(), "pidfd_getfd failed")
    return borrowed


def _parse(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class Client:
    """A websocket-client connection that reads JSON frames."""

    def __init__(self, url, **options):
        self.ws = websocket.create_connection(url, timeout=timeout(5), **options)

    def send(self, **frame):
        """Send `frame` as a JSON text frame."""
        self.ws.send(json.dumps(frame))

    def recv(self, wait=5):
        """The next JSON frame (fails after `wait` seconds)."""
        self.ws.settimeout(timeout(wait))
        opcode, data = self.ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_TEXT, (opcode, data)
        return json.loads(data)

    def recv_type(self, kind, wait=5):
        """The next frame of type `kind`, skipping presence frames of others."""
        while True:
            frame = self.recv(wait)
            if frame["type"] == kind:
                return frame
            assert frame["type"] == "presence", frame

    def recv_until(self, match, wait=5):
        """Skip frames until one for which `match(frame)` holds; return it."""
        deadline = time.monotonic() + timeout(wait)
        while True:
            frame = self.recv(max(deadline - time.monotonic(), 0.01) / SCALE)
            if match(frame):
                return frame

    def sync(self):
        """Read hello, the backlog and synced; return (hello, stored events, synced)."""
        hello = self.recv()
        assert hello["type"] == "hello", hello
        backlog = []
        while (frame := self.recv())["type"] != "synced":
            if "id" in frame:  # a stored event
                backlog.append(frame)
        return hello, backlog, frame

    def assert_silent(self, wait=0.3):
        """Nothing but presence frames arrives within `wait` seconds."""
        self.ws.settimeout(timeout(wait))
        try:
            while True:
                frame = json.loads(self.ws.recv())
                assert frame["type"] == "presence", f"unexpected frame {frame}"
        except websocket.WebSocketTimeoutException:
            pass

    def close_frame(self, wait=5):
        """Read until the server's close frame; return (code, reason)."""
        self.ws.settimeout(timeout(wait))
        while True:
            frame = self.ws.recv_frame()
            if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None
                return code, frame.data[2:].decode()

    def close(self):
        """Close politely, ignoring a connection that is already gone."""
        try:
            self.ws.close()
        except (OSError, websocket.WebSocketException):
            pass


# For tests that send floods on purpose: the message rate limit lifted.
UNLIMITED = {"CHAT_RATE_PER_SECOND": "1000000", "CHAT_RATE_BURST": "1000000"}


class EventStreamClient:
    """A raw Server-Sent Events reader over http.client."""

    def __init__(self, server, path, headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout(5))
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.comments = []

    def next_event(self):
        """The next event as {"event", "id", "data"} (data parsed as JSON); comments are kept aside."""
        event = {}
        while True:
            line = self.response.readline().decode("utf-8")
            if not line:
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if not line:
                if "data" in event:
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            field, _, value = line.partition(": ")
            event[field] = json.loads(value) if field == "data" else value

    def until(self, match):
        """Skip events until `match(event)`; return that event."""
        while not match(event := self.next_event()):
            pass
        return event

    def close(self):
        """Hang up."""
        self.conn.close()
