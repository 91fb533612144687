"""A rolling restart (HUP to gunicorn's master) after the code on disk changed."""

import shutil
import signal

import pytest

from liveserver import ROOT, eventually, log_lines, timeout, workers_of


@pytest.fixture
def checkout(tmp_path):
    """A copy of the server's code, to change before a HUP."""
    root = tmp_path / "checkout"
    shutil.copytree(ROOT / "chat", root / "chat", ignore=shutil.ignore_patterns("__pycache__"))
    for top in ("wsgi.py", "gunicorn.conf.py"):
        shutil.copy(ROOT / top, root / top)
    return root


def change(path, old, new):
    """Replace `old` (which must be there) by `new` in the file at `path`."""
    code = path.read_text()
    assert old in code, f"{old!r} is no longer in {path}"
    path.write_text(code.replace(old, new))


def test_the_new_workers_run_the_new_code(start_server, checkout, name):
    """Not the modules the master imported with its settings at the first start."""
    srv = start_server(gunicorn=True, root=checkout, CHAT_WORKERS="1")
    auth = {"Authorization": f"Bearer {srv.token(name('r'))}"}
    assert srv.request("POST", "/api/messages", {"msg": "eleven char"}, auth)[0] == 201
    change(checkout / "chat" / "settings.py", "max_message_chars: int = 4000", "max_message_chars: int = 10")
    old_workers = set(workers_of(srv))
    srv.proc.send_signal(signal.SIGHUP)
    eventually(lambda: old_workers.isdisjoint(workers_of(srv)) and len(workers_of(srv)) == 1, 15)
    status, body, _ = srv.request("POST", "/api/messages", {"msg": "eleven char"}, auth)
    assert status == 413 and body["error"]["code"] == "too_long", (status, body)


def test_new_code_that_cannot_use_the_store_stops_the_master_before_its_workers(start_server, checkout, name):
    """The new code's upgrade runs once, before any new worker: here the code is older than
    the database, which it refuses naming the setting, and gunicorn stops."""
    srv = start_server(gunicorn=True, root=checkout, CHAT_WORKERS="1")
    assert srv.request("POST", "/api/token", {"name": name("r")})[0] == 200  # the database is made
    change(checkout / "chat" / "storage" / "sqlite" / "schema.py", "SCHEMA_VERSION = 11", "SCHEMA_VERSION = 10")
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.proc.wait(timeout(15)) == 1
    after_hup = srv.log().split("Hang up")[1]
    assert "CHAT_DATABASE_URL" in after_hup and "newer" in after_hup
    assert "Booting worker" not in after_hup
    assert log_lines(srv, "the store could not be upgraded")
