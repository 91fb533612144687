"""`pip install .` into a fresh venv: the installed server and client work from another directory."""

import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from liveserver import ROOT, free_port, timeout


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtual environment with this project installed (the tested pins as constraints)."""
    where = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=timeout(120))
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # The pinned set as constraints (pip takes no extras there: "gunicorn[gevent]" is "gunicorn").
    constraints = where / "constraints.txt"
    constraints.write_text(re.sub(r"\[[^]]*\]", "", (ROOT / "requirements.txt").read_text()))
    subprocess.run([*pip, "-c", str(constraints), str(ROOT)], check=True, timeout=timeout(600))
    return where


def _wait_for_health(url, proc):
    deadline = time.monotonic() + timeout(20)
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                return answer.status
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the installed server did not answer")


def test_the_installed_server_and_client_work_elsewhere(venv, tmp_path):
    """chat-server serves the page (its template and static files come from the package),
    and the installed `chat` client logs in and sends through it."""
    port = free_port()
    env = {**os.environ, "CHAT_PORT": str(port), "CHAT_DATA_DIR": str(tmp_path / "data"),
           "CHAT_CLIENT_CONFIG": str(tmp_path / "client.json"), "PYTHONPATH": ""}
    server = subprocess.Popen([str(venv / "bin" / "chat-server")], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for_health(url, server) == 200
        with urllib.request.urlopen(url + "/", timeout=timeout(5)) as page:
            assert b'name="name"' in page.read()
        with urllib.request.urlopen(url + "/static/chat.css", timeout=timeout(5)) as css:
            assert css.status == 200
        client = [str(venv / "bin" / "chat")]
        for args in (["login", "installed_user", "--server", url], ["send", "hello from the package"]):
            done = subprocess.run([*client, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=timeout(30), check=False)
            assert done.returncode == 0, done.stderr
        history = subprocess.run([str(venv / "bin" / "python"), "-m", "chat.client", "history"], cwd=tmp_path,
                                 env=env, capture_output=True, text=True, timeout=timeout(30), check=False)
        assert "hello from the package" in history.stdout, history.stderr
    finally:
        server.terminate()
        server.wait(timeout(10))
