"""Starting the server: settings checked up front, both commands serving everything."""

import os
import socket
import stat
import subprocess
import sys

import pytest

from liveserver import ROOT, timeout


def start_fails(command, **env):
    """Run a start command that must refuse to start; return what it printed."""
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=timeout(30), check=False)
    assert result.returncode != 0
    return result.stdout + result.stderr


@pytest.mark.parametrize("variable, value", [
    ("CHAT_PORT", "eighty"),
    ("CHAT_PORT", "70000"),
    ("CHAT_WORKERS", "0"),
    ("CHAT_AUTH", "maybe"),
    ("CHAT_ECHO_ENDPOINT", "yes"),
    ("CHAT_ALLOWED_ORIGINS", "not-an-origin"),
    ("CHAT_DATABASE_URL", "mysql://db/chat"),
    ("CHAT_PING_INTERVAL", "-1"),
    ("CHAT_IDLE_TIMEOUT", "nan"),
    ("CHAT_MAX_FRAME_BYTES", "12"),
])
def test_a_malformed_setting_stops_the_start_naming_it(tmp_path, variable, value):
    """python wsgi.py exits with a message naming the bad variable."""
    out = start_fails([sys.executable, "wsgi.py"], CHAT_DATA_DIR=str(tmp_path), **{variable: value})
    assert variable in out and "Traceback" not in out


@pytest.mark.parametrize("variable, value", [
    ("CHAT_REDIS_URL", "redis://127.0.0.1:1/0"),
    ("CHAT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/chat"),
])
def test_an_unreachable_server_stops_the_start_naming_it(tmp_path, variable, value):
    """A Redis or PostgreSQL that does not answer at start is named, with no traceback."""
    out = start_fails([sys.executable, "wsgi.py"], CHAT_DATA_DIR=str(tmp_path), **{variable: value})
    assert f"chat: cannot start: {variable}" in out and "Traceback" not in out


def test_several_workers_need_redis(tmp_path):
    """CHAT_WORKERS > 1 without CHAT_REDIS_URL is refused with a clear message."""
    out = start_fails([sys.executable, "wsgi.py"], CHAT_DATA_DIR=str(tmp_path), CHAT_WORKERS="2")
    assert "CHAT_WORKERS" in out and "CHAT_REDIS_URL" in out


def test_gunicorn_refuses_a_malformed_setting(tmp_path):
    """gunicorn -c gunicorn.conf.py stops on a bad setting too, naming it."""
    out = start_fails([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                      CHAT_DATA_DIR=str(tmp_path), CHAT_AUTH="bogus")
    assert "CHAT_AUTH" in out


def test_gunicorn_serves_the_page_and_the_socket(start_server):
    """Under gunicorn's worker the page, the API and a direct message all work."""
    srv = start_server(gunicorn=True)
    status, body, _ = srv.get("/")
    assert status == 200 and "<form" in body
    alice, bob = srv.connect("alice"), srv.connect("bob")
    alice.sync()
    bob.sync()
    alice.send(to_user="bob", msg="via gunicorn", cid="g1")
    assert alice.recv_type("message")["cid"] == "g1"
    assert bob.recv_type("message")["msg"] == "via gunicorn"
    alice.ws.send_binary(b"x")
    assert alice.close_frame()[0] == 1003
    for client in (alice, bob):
        client.close()


def test_gunicorn_keeps_a_metrics_directory_it_did_not_make(start_server, tmp_path):
    """PROMETHEUS_MULTIPROC_DIR named by the operator is used and left in place; none is made."""
    theirs, temp = tmp_path / "operator-metrics", tmp_path / "tmp"
    theirs.mkdir()
    temp.mkdir()
    (theirs / "keep").write_text("the operator's")
    srv = start_server(gunicorn=True, PROMETHEUS_MULTIPROC_DIR=str(theirs), TMPDIR=str(temp))
    assert srv.get("/metrics")[0] == 200
    srv.stop()
    assert (theirs / "keep").read_text() == "the operator's"
    assert not list(temp.glob("chat-metrics-*"))


def test_gunicorn_removes_the_metrics_directory_it_made(start_server, tmp_path):
    """Without PROMETHEUS_MULTIPROC_DIR, gunicorn.conf.py makes one directory and removes it at exit."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    srv = start_server(gunicorn=True, TMPDIR=str(temp))
    made = list(temp.glob("chat-metrics-*"))
    assert len(made) == 1
    srv.stop()
    assert not made[0].exists()


def test_the_secret_key_file_is_private_and_kept(start_server):
    """The generated key is mode 0600 and survives a restart (sessions stay valid)."""
    srv = start_server()
    key_file = srv.data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = srv.token("keeper")
    srv.stop()
    srv.start()
    client = srv.connect("keeper", token=token)
    assert client.sync()[0]["user"] == "keeper"
    client.close()


def test_http_errors_are_json(server):
    """Unknown paths and plain GETs of the socket answer JSON errors."""
    status, body, _ = server.get("/nowhere")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = server.get("/ws/alice")
    assert status == 400 and "error" in body


def test_health_and_online_users(server, clients):
    """/healthz is ok; /api/users lists who is online to a logged-in caller."""
    assert server.get("/healthz")[:2] == (200, {"status": "ok"})
    assert server.get("/api/users")[0] == 401
    client = clients(server.connect("listed"))
    client.sync()
    token = server.token("asker")
    status, body, _ = server.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and "listed" in body["online"]


def test_a_port_in_use_a_host_unknown_and_a_file_for_a_directory_are_one_line(tmp_path):
    """Each refusal at start names its setting in one line, with no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = start_fails([sys.executable, "wsgi.py"], CHAT_DATA_DIR=str(tmp_path / "a"),
                          CHAT_PORT=str(taken.getsockname()[1]))
    assert "chat: cannot start: CHAT_PORT=" in out and "in use" in out and "Traceback" not in out
    out = start_fails([sys.executable, "wsgi.py"], CHAT_DATA_DIR=str(tmp_path / "b"), CHAT_HOST="no-such-host.invalid")
    assert "chat: cannot start: CHAT_HOST=" in out and "Traceback" not in out
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("")
    out = start_fails([sys.executable, "wsgi.py"], CHAT_DATA_DIR=str(a_file))
    assert "CHAT_DATA_DIR" in out and "is a file" in out and "Traceback" not in out


def test_the_data_directory_is_0700_and_every_file_in_it_0600(start_server, name, clients, tmp_path):
    """A data directory the server makes, after messages are stored and indexed: nobody else may read any of it."""
    fresh = tmp_path / "fresh"
    srv = start_server(CHAT_DATA_DIR=str(fresh))
    client = clients(srv.connect(name("owner")))
    client.sync()
    client.send(msg="private", cid="p")
    client.recv_until(lambda frame: frame.get("cid") == "p")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    written = list(fresh.iterdir())
    assert {p.name for p in written} >= {"chat.db", "chat.db-wal", "chat.db-shm", "chat.db-mailbox", "secret_key"}
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {p.name: "0o600" for p in written}


def test_gunicorn_stops_before_its_workers_on_a_database_it_cannot_use(tmp_path):
    """The master's upgrade refuses a file that is not a database, naming the setting, and
    gunicorn stops: no worker is booted to fail on it, and booted again, for ever."""
    path, temp = tmp_path / "chat.db", tmp_path / "temp"
    path.write_bytes(b"not a database" * 100)
    temp.mkdir()
    printed = start_fails([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                          CHAT_DATA_DIR=str(tmp_path), CHAT_PORT="0", TMPDIR=str(temp))
    assert "CHAT_DATABASE_URL" in printed and "cannot be used" in printed
    assert "Booting worker" not in printed
    assert not list(temp.iterdir())  # the metrics directory it made is gone too
