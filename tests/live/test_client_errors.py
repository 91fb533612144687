"""`python -m chat.client` when the server is not there or not a chat server: one line on
stderr, a non-zero exit status, no traceback."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from liveserver import ROOT, free_port, timeout


def run_client(tmp_path, *args, server=None, **env):
    """Run the client; returns (returncode, stdout, stderr). `server` is written into its
    config file as if a login had saved it (user ann, a made-up token)."""
    config = tmp_path / "client.json"
    if server is not None:
        config.write_text(json.dumps({"server": server, "user": "ann", "token": "t"}))
    done = subprocess.run([sys.executable, "-m", "chat.client", *args], cwd=ROOT,
                          env={**os.environ, "CHAT_CLIENT_CONFIG": str(config), **env},
                          capture_output=True, text=True, timeout=timeout(30), check=False)
    return done.returncode, done.stdout, done.stderr


def assert_one_line(code, err, start):
    """The failure's shape: exit 1, exactly one line on stderr beginning with `start`."""
    assert code == 1, (code, err)
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith(start), err


class _NotChat(http.server.BaseHTTPRequestHandler):
    """A web server that is not a chat server: 404 pages for GET, 501 for POST (http.server's own),
    and a JSON answer of the wrong shape for /api/messages."""

    def do_GET(self):  # pylint: disable=invalid-name
        """A JSON list where the chat server would send {"messages": [...]}, else a 404 page."""
        if self.path.startswith("/api/messages"):
            body = b"[1, 2, 3]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        """Quiet."""


@pytest.fixture
def plain_web_server():
    """The URL of a plain web server on a free port, in a thread of the test."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotChat)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("args", [("login", "ann"), ("send", "hi"), ("send", "--sse", "hi"), ("history",), ("rooms",)],
                         ids=lambda args: "-".join(args))
def test_a_server_that_is_down(tmp_path, args):
    """Connection refused, by any command: one line that names the URL."""
    url = f"http://127.0.0.1:{free_port()}"
    extra = ("--server", url) if args[0] == "login" else ()
    code, _, err = run_client(tmp_path, *args, *extra, server=None if extra else url)
    assert_one_line(code, err, f"chat: cannot reach the chat server at {url}: connection refused")


def test_an_unknown_host(tmp_path):
    """A host name that does not resolve (.invalid never does)."""
    code, _, err = run_client(tmp_path, "login", "ann", "--server", "http://no-such-host.invalid:8000")
    assert_one_line(code, err, "chat: cannot reach the chat server at http://no-such-host.invalid:8000: "
                               "cannot resolve its host name")


@pytest.mark.parametrize("args", [("login", "ann"), ("send", "hi")], ids=["http", "socket"])
def test_a_server_that_never_answers(tmp_path, silent_port, args):
    """CHAT_CLIENT_TIMEOUT seconds without an answer (to a request, to a handshake)."""
    url = f"http://127.0.0.1:{silent_port}"
    extra = ("--server", url) if args[0] == "login" else ()
    code, _, err = run_client(tmp_path, *args, *extra, server=None if extra else url, CHAT_CLIENT_TIMEOUT="0.5")
    assert_one_line(code, err, f"chat: cannot reach the chat server at {url}: no answer in time")


def test_a_url_without_a_scheme_gets_http(tmp_path, server):
    """host:port is taken as http://host:port, and kept so."""
    code, out, err = run_client(tmp_path, "login", "noscheme_ce", "--server", f"127.0.0.1:{server.port}/")
    assert code == 0 and "logged in as noscheme_ce" in out, err
    assert json.loads((tmp_path / "client.json").read_text())["server"] == server.url


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8000", "http://", "http://127.0.0.1:eighty"])
def test_a_url_that_is_no_server_url(tmp_path, url):
    """Another scheme, no host, a port that is no number: refused before any connection."""
    code, _, err = run_client(tmp_path, "login", "ann", "--server", url)
    assert_one_line(code, err, f"chat: {url!r} is not a chat server's URL")


@pytest.mark.parametrize("args, what", [
    (("login", "ann"), "HTTP 501"), (("send", "hi"), "HTTP 404"), (("send", "--sse", "hi"), "HTTP 501"),
    (("history",), "an unexpected answer"), (("rooms",), "HTTP 404"), (("join", "garden"), "HTTP 501")],
    ids=lambda value: "-".join(value) if isinstance(value, tuple) else "")
def test_a_plain_web_server(tmp_path, plain_web_server, args, what):
    """A web server that is not a chat server: its URL and what it answered."""
    url = plain_web_server
    extra = ("--server", url) if args[0] == "login" else ()
    code, _, err = run_client(tmp_path, *args, *extra, server=None if extra else url)
    assert_one_line(code, err, f"chat: {url} does not look like a chat server ({what})")


def test_https_to_a_server_that_speaks_http(tmp_path, server):
    """https:// to a plain-HTTP server: the TLS handshake fails, said in one line."""
    url = f"https://127.0.0.1:{server.port}"
    code, _, err = run_client(tmp_path, "login", "ann", "--server", url)
    assert_one_line(code, err, f"chat: cannot reach the chat server at {url}: the TLS handshake failed")


def test_a_websocket_closed_with_a_code(tmp_path, start_server):
    """The server closes the socket (1008: one connection per user here): the code and the reason."""
    srv = start_server(CHAT_MAX_CONNECTIONS_PER_USER="1")
    code, _, err = run_client(tmp_path, "login", "--server", srv.url, "una_ce")
    assert code == 0, err
    token = json.loads((tmp_path / "client.json").read_text())["token"]
    held = srv.connect("una_ce", token=token)
    try:
        held.sync()
        code, _, err = run_client(tmp_path, "send", "hi")
    finally:
        held.close()
    assert_one_line(code, err, "chat: the server closed the connection with 1008 (")
    assert err.rstrip().endswith(") before the message was acknowledged")
