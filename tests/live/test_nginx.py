"""The server behind Debian's nginx, run with deploy/nginx.conf (the site file that
docs/deployment.md tells operators to install) on the test's own ports, with a TLS listener
on a self-signed certificate: what an operator's nginx does, terminating TLS and passing on
$scheme. For `python wsgi.py` and for gunicorn, each with CHAT_TRUSTED_PROXIES=1.

The clients connect from addresses of their own in 127.0.0.0/8, so that nginx sees a
different client address for each."""

import getpass
import http.client
import itertools
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest
import websocket

from liveserver import ROOT, Client, EventStreamClient, Server, eventually, free_port, timeout

SITE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian's is in /usr/sbin, often not on PATH

# Everyone limited, loopback too: each client address holds one connection.
SETTINGS = {"CHAT_TRUSTED_PROXIES": "1", "CHAT_LIMIT_EXEMPT": "", "CHAT_MAX_CONNECTIONS_PER_ADDRESS": "1",
            "CHAT_ACCOUNTS_PER_ADDRESS": "1000"}

MAIN = """worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
{user}
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/other.log;  # the site's own servers log to access.log
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/chat.conf;
}}
"""

_addresses = (f"127.0.0.{n}" for n in itertools.count(2))


def client_address():
    """A loopback address no client of this run has used yet."""
    return next(_addresses)


def render_site(text, prefix, upstream, http_port, https_port, cert, key):
    """The site file with the test's ports, certificate and log in place of the operator's
    (each replaced text must be there as often as said) and without its IPv6 listeners."""
    for old, new, times in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};", 1),
                            ("listen 80;", f"listen 127.0.0.1:{http_port};", 1),
                            ("listen [::]:80;", "", 1),
                            ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", 1),
                            ("listen [::]:443 ssl;", "", 1),
                            ("/etc/letsencrypt/live/chat.example.com/fullchain.pem", str(cert), 1),
                            ("/etc/letsencrypt/live/chat.example.com/privkey.pem", str(key), 1),
                            ("/var/log/nginx/chat.access.log", str(prefix / "access.log"), 2)):
        assert text.count(old) == times, f"deploy/nginx.conf no longer has {old!r} {times} times"
        text = text.replace(old, new)
    return text


class Nginx:
    """Debian's nginx in a prefix of its own (config, pid, logs, temp paths), in the foreground."""

    def __init__(self, prefix, upstream_port):
        self.prefix = prefix
        self.upstream = upstream_port
        self.http_port = free_port()
        self.https_port = free_port()
        self.origin = f"https://127.0.0.1:{self.https_port}"
        self.cert = prefix / "cert.pem"
        self.proc = None

    def start(self):
        """Make a self-signed certificate, write the configs, start nginx and wait for its port."""
        self.prefix.mkdir(parents=True)
        key = self.prefix / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(self.cert)], check=True, capture_output=True,
                       timeout=timeout(30))
        (self.prefix / "chat.conf").write_text(
            render_site(SITE.read_text(), self.prefix, self.upstream, self.http_port, self.https_port, self.cert, key))
        # As root the workers would run as nobody, who cannot reach pytest's directories.
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        (self.prefix / "nginx.conf").write_text(MAIN.format(prefix=self.prefix, user=user))
        log = open(self.prefix / "stderr.log", "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
                                      "-c", str(self.prefix / "nginx.conf"), "-g", "daemon off;"],
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout(20)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.log('stderr.log')}"
                                   f"{self.log('error.log')}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen in time:\n{self.log('error.log')}")

    def stop(self):
        """SIGTERM (nginx's fast shutdown) and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout(10))

    def log(self, name):
        """One of nginx's logs in the prefix."""
        path = self.prefix / name
        return path.read_text(errors="replace") if path.exists() else ""

    def tls(self):
        """A client TLS context that trusts the test's certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def https(self, source):
        """An HTTPS connection to nginx from the address `source`."""
        return http.client.HTTPSConnection("127.0.0.1", self.https_port, context=self.tls(),
                                           source_address=(source, 0), timeout=timeout(5))

    def request(self, source, method, path, body=None, headers=None):
        """One HTTPS request from `source`; (status, headers, body bytes)."""
        conn = self.https(source)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def websocket(self, srv, user, source, headers=()):
        """A logged-in Client on wss:// through nginx from `source` (websocket-client sends
        Origin: the page's own, https://127.0.0.1:<port>)."""
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=timeout(5),
                                       source_address=(source, 0))
        sock = self.tls().wrap_socket(raw, server_hostname="127.0.0.1")
        query = urllib.parse.urlencode({"token": srv.token(user)})
        return Client(f"wss://127.0.0.1:{self.https_port}/ws/{user}?{query}", socket=sock, header=list(headers))


class ProxiedStream(EventStreamClient):
    """An event stream read through nginx over TLS."""

    def __init__(self, proxy, path, source, headers):  # pylint: disable=super-init-not-called
        self.conn = proxy.https(source)
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.comments = []


@pytest.fixture(scope="module", params=["gevent", "gunicorn"])
def proxied(request, tmp_path_factory):
    """(server, nginx in front of it), for `python wsgi.py` and for gunicorn."""
    tmp = tmp_path_factory.mktemp(f"nginx-{request.param}")
    srv = Server(tmp / "data", SETTINGS, gunicorn=request.param == "gunicorn").start()
    try:
        proxy = Nginx(tmp / "nginx", srv.port).start()
    except BaseException:
        srv.stop()
        raise
    yield srv, proxy
    proxy.stop()
    srv.stop()


def test_a_message_round_trip_over_websockets_through_nginx(proxied, name, clients):
    """The upgrade passes nginx (with the page's Origin, checked against the forwarded
    host): ann's message is acknowledged and reaches bob, each on wss:// through nginx."""
    srv, proxy = proxied
    ann, bob = name("ann"), name("bob")
    sender = clients(proxy.websocket(srv, ann, client_address()))
    receiver = clients(proxy.websocket(srv, bob, client_address()))
    sender.sync()
    receiver.sync()
    sender.send(msg="through nginx", cid="n1")
    ack = sender.recv_until(lambda frame: frame.get("cid") == "n1")
    assert ack["type"] == "message", ack
    heard = receiver.recv_until(lambda frame: frame.get("type") == "message")
    assert (heard["id"], heard["msg"], heard["from_user"]) == (ack["id"], "through nginx", ann)


def test_an_event_arrives_through_nginx_while_the_stream_is_open(proxied, name):
    """A message posted after the stream synced is read from the open stream within the
    read timeout: nginx does not hold it back in a buffer until the stream ends."""
    srv, proxy = proxied
    reader, writer = name("reader"), name("writer")
    stream = ProxiedStream(proxy, f"/events/{reader}", client_address(),
                           {"Authorization": f"Bearer {srv.token(reader)}"})
    try:
        assert stream.status == 200
        stream.until(lambda event: event["data"]["type"] == "synced")
        status, _, body = proxy.request(client_address(), "POST", "/api/messages", b'{"msg": "streamed"}',
                                        {"Authorization": f"Bearer {srv.token(writer)}",
                                         "Content-Type": "application/json"})
        assert status in (200, 201), body
        event = stream.until(lambda event: event["data"]["type"] == "message")
        assert (event["data"]["msg"], event["data"]["from_user"]) == ("streamed", writer)
    finally:
        stream.close()


def test_the_limits_see_each_client_address(proxied, name, clients):
    """Through nginx, connections count per client address (one each here): a second one
    from the same address is 429 although it writes another address into X-Forwarded-For;
    one from another address is let in. nginx's access log names the client, and no token."""
    srv, proxy = proxied
    first, second = client_address(), client_address()
    ann, bob = name("ann"), name("bob")
    clients(proxy.websocket(srv, ann, first)).sync()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        proxy.websocket(srv, bob, first, ["X-Forwarded-For: 198.51.100.7"])
    assert refused.value.status_code == 429 and b"too_many_connections" in refused.value.resp_body
    clients(proxy.websocket(srv, bob, second)).sync()
    # nginx writes the line after its answer: it may not be there yet.
    eventually(lambda: re.search(rf"^{re.escape(first)} .*\"GET /ws/{bob} HTTP/1.1\" 429 ", proxy.log("access.log"),
                                 re.M) is not None)
    assert "token" not in proxy.log("access.log")


def test_the_servers_access_log_names_the_client(proxied):
    """A request through nginx is logged by the server with the client's address, not nginx's."""
    srv, proxy = proxied
    client = client_address()
    assert proxy.request(client, "GET", "/healthz")[0] == 200
    named = re.compile(rf"(?<![\d.]){re.escape(client)}(?![\d.]).*/healthz")
    eventually(lambda: named.search(srv.log()) is not None)


def test_over_tls_the_session_cookie_is_secure(proxied, name):
    """A log-in through nginx's https gets a Secure session cookie (the server learns the
    scheme from X-Forwarded-Proto); the same log-in straight to the server's http does not.
    Plain http on nginx redirects to https, and /metrics is refused outside 10.0.0.0/8."""
    srv, proxy = proxied
    form = urllib.parse.urlencode({"name": name("carol")})
    status, headers, _ = proxy.request(client_address(), "POST", "/login", form,
                                       {"Content-Type": "application/x-www-form-urlencoded",
                                        "Origin": proxy.origin})
    assert status in (302, 303), status
    cookie = headers["Set-Cookie"]
    assert "secure" in [part.strip().lower() for part in cookie.split(";")], cookie

    direct = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout(5))
    direct.request("POST", "/login", urllib.parse.urlencode({"name": name("dave")}),
                   {"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.url})
    plain = direct.getresponse().headers["Set-Cookie"]
    direct.close()
    assert "secure" not in [part.strip().lower() for part in plain.split(";")], plain

    redirect = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=timeout(5))
    redirect.request("GET", "/")
    answer = redirect.getresponse()
    redirect.close()
    assert answer.status == 301 and answer.headers["Location"].startswith("https://")
    assert proxy.request(client_address(), "GET", "/metrics")[0] == 403
