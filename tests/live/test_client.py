"""`python -m chat.client` against a live server: login, send, listen, history."""

import os
import stat
import subprocess
import sys
import threading
from queue import Empty, Queue

import pytest

from liveserver import ROOT, timeout


@pytest.fixture
def cli(server, tmp_path):
    """Run the client with its own config file; returns (returncode, stdout, stderr)."""
    env = {**os.environ, "CHAT_CLIENT_CONFIG": str(tmp_path / "client.json"), "CHAT_SERVER": server.url}

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "chat.client", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout(30), check=False)
        return done.returncode, done.stdout, done.stderr
    run.env = env
    run.config = tmp_path / "client.json"
    return run


class Listener:
    """`chat.client listen` in the background, its stdout and stderr lines in queues."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "chat.client", "listen", *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err, self.printed = Queue(), Queue(), []
        for stream, queue in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, queue), daemon=True).start()

    def _pump(self, stream, queue):
        for line in stream:
            if queue is self.out:
                self.printed.append(line.rstrip("\n"))
            queue.put(line.rstrip("\n"))

    def wait_for(self, queue, text):
        """The first line of `queue` containing `text` (fails after 15 s)."""
        while True:
            try:
                line = queue.get(timeout=timeout(15))
            except Empty:
                pytest.fail(f"no line with {text!r}")
            if text in line:
                return line

    def stop(self):
        """Interrupt it and collect what is left."""
        self.proc.terminate()
        self.proc.wait(timeout(10))


def test_login_send_and_history(cli, server):
    """login keeps a private token; send to everyone and to one person; history shows both."""
    server.token("hana_c")
    code, out, _ = cli("login", "Ian_c")
    assert code == 0 and "logged in as Ian_c" in out
    assert stat.S_IMODE(os.stat(cli.config).st_mode) == 0o600
    code, out, _ = cli("send", "hello from the command line")
    assert code == 0 and "Ian_c → everyone: hello from the command line" in out
    code, out, _ = cli("send", "--to", "hana_c", "--sse", "psst, over HTTP")
    assert code == 0 and "Ian_c → hana_c: psst, over HTTP" in out
    code, out, _ = cli("history")
    assert "hello from the command line" in out and "psst" not in out
    code, out, _ = cli("history", "--with", "hana_c")
    assert out.strip().endswith("Ian_c → hana_c: psst, over HTTP")


def test_errors_are_messages_not_tracebacks(cli):
    """An unknown recipient and a missing login end with a one-line reason and exit 1."""
    code, _, err = cli("send", "hi")
    assert code == 1 and "not logged in" in err
    cli("login", "jo_c")
    code, _, err = cli("send", "--to", "nobody_ever_c", "hi")
    assert code == 1 and "unknown_user" in err and "Traceback" not in err
    code, _, err = cli("send", "--sse", "--to", "nobody_ever_c", "hi")
    assert code == 1 and "404 unknown_user" in err


def test_login_under_a_held_name_explains_what_to_do(cli, server):
    """name_taken: the client says the name is held and suggests --password."""
    server.token("kept_c")
    code, _, err = cli("login", "kept_c")
    assert code == 1 and "name_taken" in err and "--password" in err and "Traceback" not in err


@pytest.mark.parametrize("transport", [[], ["--sse"]], ids=["socket", "sse"])
def test_listen_prints_new_messages_and_catches_up_after_a_restart(start_server, tmp_path, transport):
    """listen prints messages as they come; across a server restart it misses none and repeats none."""
    srv = start_server()
    env = {**os.environ, "CHAT_CLIENT_CONFIG": str(tmp_path / "c.json"), "CHAT_SERVER": srv.url}
    subprocess.run([sys.executable, "-m", "chat.client", "login", "kim_c"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=timeout(30))
    sender = srv.connect("lee_c")
    sender.sync()
    listener = Listener(env, *transport)
    try:
        listener.wait_for(listener.err, "listening as kim_c")
        sender.send(to_user="kim_c", msg="first", cid="1")
        assert listener.wait_for(listener.out, "first").endswith("lee_c → kim_c: first")
        sender.close()
        srv.stop()
        listener.wait_for(listener.err, "reconnecting")
        srv.start()
        sender = srv.connect("lee_c")
        sender.sync()
        sender.send(msg="while you were away", cid="2")
        sender.recv_until(lambda f: f.get("cid") == "2")
        listener.wait_for(listener.out, "while you were away")
        listener.wait_for(listener.err, "back as kim_c")
        sender.send(msg="after", cid="3")
        listener.wait_for(listener.out, "after")
    finally:
        listener.stop()
        sender.close()
    texts = [line.split(": ", 1)[1] for line in listener.printed]
    assert texts == ["first", "while you were away", "after"]  # each once, in order
