"""Real Redis and PostgreSQL servers for the tests, each on its own port and data directory.

`make test` installs Debian's redis-server and postgresql when they are missing.
PostgreSQL refuses to run as root, so as root it runs as the `postgres` user that
Debian's package makes.
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from liveserver import free_port, timeout


def _as_postgres():
    # Popen's user and group: PostgreSQL refuses to run as root.
    if os.geteuid() == 0:
        return {"user": "postgres", "group": "postgres", "extra_groups": []}
    return {}


def _wait(check, what, log):
    deadline = time.monotonic() + timeout(20)
    while time.monotonic() < deadline:
        try:
            check()
            return
        except Exception:  # pylint: disable=broad-except
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start:\n{log()}")


class RedisServer:
    """redis-server without persistence, on a free port; stop() and start() again to restart it."""

    def __init__(self, data_dir):
        self.dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        """Start (or restart on the same port) and wait until it answers PING."""
        self.dir.mkdir(parents=True, exist_ok=True)
        log = open(self.dir / "redis.log", "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
        _wait(lambda: redis.Redis(port=self.port).ping(), "redis-server", self.log)
        return self

    def stop(self):
        """SIGTERM and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout(10))

    def log(self):
        """What redis-server printed."""
        path = self.dir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


class PostgresServer:
    """A PostgreSQL cluster made by initdb in a directory of its own, on a free port."""

    def __init__(self):
        # Not under pytest's tmp_path: the postgres user must be able to reach it.
        self.dir = Path(tempfile.mkdtemp(prefix="chat-test-pg-"))
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.proc = None
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        self.bin = os.path.dirname(found[-1]) if found else os.path.dirname(shutil.which("postgres") or "")

    def start(self):
        """initdb (trust on loopback, no fsync: a test database), then postgres."""
        cluster = self.dir / "cluster"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run([f"{self.bin}/initdb", "-D", str(cluster), "-U", "postgres", "-A", "trust", "--no-sync"],
                       check=True, capture_output=True, **_as_postgres())
        log = open(self.dir / "postgres.log", "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(
            [f"{self.bin}/postgres", "-D", str(cluster), "-p", str(self.port), "-k", str(self.dir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, **_as_postgres())
        _wait(lambda: psycopg.connect(self.url, connect_timeout=1).close(), "postgres", self.log)
        return self

    def stop(self):
        """Fast shutdown, wait, and remove the cluster."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout(20))
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        """What postgres printed."""
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def fresh_database(self, name):
        """Create an empty database `name`; return its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"
