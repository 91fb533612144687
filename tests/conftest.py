"""Live-server fixtures: real server processes on free ports, real WebSocket clients."""

import os
from itertools import count

import pytest

from backends import PostgresServer, RedisServer
from liveserver import ROOT, Server

_names = count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One `python wsgi.py` with default settings, shared by a test module."""
    srv = Server(tmp_path_factory.mktemp("data")).start()
    yield srv
    srv.stop()


@pytest.fixture
def start_server(tmp_path):
    """Start servers with extra CHAT_* settings; each is stopped after the test."""
    started = []

    def start(gunicorn=False, root=ROOT, **env):
        srv = Server(tmp_path / f"data{len(started)}", env, gunicorn, root).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def name():
    """A factory of usernames unique to this test run."""
    return lambda base="user": f"{base}{next(_names)}_{os.getpid() % 1000}"


@pytest.fixture
def clients():
    """Track clients so that every one is closed after the test."""
    opened = []

    def track(client):
        opened.append(client)
        return client

    yield track
    for client in opened:
        client.close()


@pytest.fixture
def postgres():
    """A PostgreSQL server of this test's own (its own port and data directory)."""
    srv = PostgresServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def pg_url(postgres):
    """The URL of an empty database on this test's PostgreSQL server."""
    return postgres.fresh_database("chat")


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of this test's own."""
    srv = RedisServer(tmp_path / "redis").start()
    yield srv
    srv.stop()
