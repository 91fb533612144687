"""Accounts, tokens, origins and abuse limits against live servers (CHAT_AUTH modes)."""

import http.cookiejar
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
import websocket
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from liveserver import ROOT, log_lines, timeout
from rawws import handshake

PASSWORD = "correct horse battery"


def refused(srv, user, **kwargs):
    """The HTTP status a socket handshake for `user` is refused with."""
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        srv.connect(user, **kwargs)
    return info.value.status_code


def mint(srv, payload, age=0):
    """A token made the README's way, by 'another backend' holding the secret key."""
    secret = (srv.data_dir / "secret_key").read_text().strip()

    class Backdated(TimestampSigner):
        def get_timestamp(self):
            return int(time.time() - age)

    return URLSafeTimedSerializer(secret, salt="chat-token-v1", signer=Backdated).dumps(payload)


def post_token(srv, name, password=None, headers=None):
    """POST /api/token; returns (status, body, headers)."""
    body = {"name": name} if password is None else {"name": name, "password": password}
    return srv.request("POST", "/api/token", body, headers)


class Browser:
    """urllib with a cookie jar: form posts like a browser's."""

    def __init__(self, srv):
        self.srv = srv
        self.jar = http.cookiejar.CookieJar()
        self.set_cookie = None

    def post_form(self, path, headers=None, **fields):
        """POST a form; returns (status, Location or body)."""
        request = urllib.request.Request(self.srv.url + path, data=urllib.parse.urlencode(fields).encode(),
                                         headers=headers or {}, method="POST")
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        try:
            with opener.open(request, timeout=timeout(10)) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            self.set_cookie = err.headers.get("Set-Cookie")
            return err.code, err.headers.get("Location") or err.read().decode()

    def cookie_header(self):
        """The Cookie header this browser would send."""
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def connect(self, user):
        """A socket for `user` carrying this browser's cookie."""
        return self.srv.connect(user, token=False, cookie=self.cookie_header())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# -- tokens at the handshake -------------------------------------------------

def test_tokens_other_users_expired_and_tampered_are_refused(server):
    """names mode: a token stands on a session the server issued, so one minted elsewhere is refused
    (CHAT_AUTH=token takes those); another user's, an expired and a tampered one are refused too."""
    assert refused(server, "minted", token=mint(server, {"u": "minted"})) == 401
    assert refused(server, "victim", token=server.token("attacker")) == 403
    assert refused(server, "victim", token=mint(server, {"u": "victim"}, age=31 * 86400)) == 401
    good = server.token("victim")
    head, _, sig = good.rpartition(".")
    tampered = head.replace(head[2], "A" if head[2] != "A" else "B", 1) + "." + sig
    assert refused(server, "victim", token=tampered) == 401
    assert refused(server, "victim", token=good[:-2]) == 401
    assert refused(server, "victim", token=False) == 401


def test_a_session_cookie_opens_only_its_own_socket(server):
    """The login form sets an HttpOnly, SameSite=Lax cookie; it opens carol's socket, not dave's."""
    browser = Browser(server)
    status, location = browser.post_form("/login", name="carol_c")
    assert status == 302 and "error" not in location
    cookie = browser.set_cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert browser.connect("carol_c").recv()["type"] == "hello"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        browser.connect("dave_c")
    assert info.value.status_code == 403
    browser.post_form("/logout")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        browser.connect("carol_c")
    assert info.value.status_code == 401


def test_cross_site_origin_is_refused_and_no_origin_allowed(server):
    """A foreign Origin is refused for the socket and for form posts; none at all is fine."""
    token = server.token("origin_o")
    path = f"/ws/origin_o?token={token}"
    for origin, status in [("https://evil.example", 403), (None, 101), (server.url, 101)]:
        sock, got, _ = handshake(server, path, headers={"Origin": origin} if origin else {})
        sock.close()
        assert got == status, origin
    status, body = Browser(server).post_form("/login", headers={"Origin": "https://evil.example"}, name="x_o")
    assert status == 403 and "bad_origin" in body


# -- passwords -----------------------------------------------------------------

def test_claiming_a_name_locks_out_everyone_without_the_password(server):
    """bob claims his name: his old token dies; no password or a wrong one is refused."""
    status, body, _ = post_token(server, "bob_p")
    old = body["token"]
    squatter = server.connect("bob_p", token=old)
    squatter.sync()
    status, body, _ = server.request("POST", "/api/password", {"password": PASSWORD},
                                     {"Authorization": f"Bearer {old}"})
    assert status == 200, body
    new = body["token"]
    assert squatter.close_frame() == (1008, "the password changed: log in again")
    assert refused(server, "bob_p", token=old) == 401
    assert server.connect("bob_p", token=new).recv()["type"] == "hello"
    assert post_token(server, "BOB_P")[0] == 401  # case does not dodge the claim
    status, body, _ = post_token(server, "bob_p", "wrong password")
    assert (status, body["error"]["code"]) == (401, "bad_password")
    status, body, _ = post_token(server, "bob_p", PASSWORD)
    assert status == 200 and server.connect("bob_p", token=body["token"]).recv()["type"] == "hello"


def test_claim_on_first_login_and_password_rules(server):
    """A password at the first login claims the name; short ones are refused, changes need the old one."""
    status, body, _ = post_token(server, "eve_p", "short")
    assert (status, body["error"]["code"]) == (400, "weak_password")
    status, body, _ = post_token(server, "eve_p", PASSWORD)
    assert status == 200 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["expires"])
    bearer = {"Authorization": f"Bearer {body['token']}"}
    status, body, _ = server.request("POST", "/api/password", {"password": "another password"}, bearer)
    assert (status, body["error"]["code"]) == (403, "bad_password")
    status, body, _ = server.request("POST", "/api/password",
                                     {"password": "another password", "current_password": PASSWORD}, bearer)
    assert status == 200
    assert post_token(server, "eve_p", PASSWORD)[0] == 401
    assert post_token(server, "eve_p", "another password")[0] == 200


def test_the_login_form_claims_and_checks_passwords(server):
    """The page's form: a claimed name without its password goes back with an error."""
    assert Browser(server).post_form("/login", name="frank_p", password=PASSWORD)[0] == 302
    status, location = Browser(server).post_form("/login", name="frank_p")
    assert status == 302 and "error=" in location
    intruder = Browser(server)
    intruder.post_form("/login", name="frank_p", password="not the password")
    with pytest.raises(websocket.WebSocketBadStatusException):
        intruder.connect("frank_p")
    owner = Browser(server)
    owner.post_form("/login", name="frank_p", password=PASSWORD)
    assert owner.connect("frank_p").recv()["type"] == "hello"


def test_brute_force_is_slowed_per_name_and_per_address(start_server):
    """After the allowed failures even the right password waits; other addresses for other names do not."""
    srv = start_server(CHAT_LOGIN_ATTEMPTS_PER_MINUTE="3", CHAT_TRUSTED_PROXIES="1")
    here = {"X-Forwarded-For": "203.0.113.7"}
    assert post_token(srv, "vault", PASSWORD, here)[0] == 200
    for attempt in range(3):
        assert post_token(srv, "vault", f"guess {attempt}", here)[0] == 401
    status, body, headers = post_token(srv, "vault", PASSWORD, here)
    assert (status, body["error"]["code"]) == (429, "too_many_attempts")
    assert 1 <= int(headers["Retry-After"]) <= 20
    elsewhere = {"X-Forwarded-For": "198.51.100.9"}
    assert post_token(srv, "vault", PASSWORD, elsewhere)[0] == 429  # the name is being attacked
    assert post_token(srv, "someone_else", None, here)[0] == 429  # so is everything from that address
    assert post_token(srv, "someone_else", None, elsewhere)[0] == 200


def test_secure_cookie_behind_an_https_proxy(start_server):
    """With CHAT_TRUSTED_PROXIES, X-Forwarded-Proto: https makes the cookie Secure."""
    srv = start_server(CHAT_TRUSTED_PROXIES="1")
    browser = Browser(srv)
    browser.post_form("/login", headers={"X-Forwarded-Proto": "https"}, name="secure_s")
    assert "Secure" in browser.set_cookie


# -- modes -----------------------------------------------------------------------

def test_token_mode_takes_only_signed_tokens_from_the_cli(start_server):
    """token mode: `flask --app wsgi chat token NAME` issues a working token; logins are refused."""
    srv = start_server(CHAT_AUTH="token")
    issued = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "chat", "token", "Zoë"],
                            cwd=ROOT, env=srv.env, capture_output=True, text=True, timeout=timeout(30), check=True)
    token = issued.stdout.strip()
    assert srv.connect("Zoë", token=token).recv()["user"] == "Zoë"
    assert refused(srv, "zoë", token=False) == 401
    assert post_token(srv, "zoë")[0] == 403
    assert Browser(srv).post_form("/login", name="zoë")[0] == 403
    bad = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "chat", "token", "no spaces"],
                         cwd=ROOT, env=srv.env, capture_output=True, text=True, timeout=timeout(30), check=False)
    assert bad.returncode != 0 and "not a username" in bad.stderr


def test_open_mode_warns_when_listening_beyond_loopback(start_server):
    """open mode on 0.0.0.0 says so at start; on loopback it stays quiet."""
    loud = start_server(CHAT_AUTH="open", CHAT_HOST="0.0.0.0")
    quiet = start_server(CHAT_AUTH="open")
    assert "CHAT_AUTH=open on 0.0.0.0" in loud.log()
    assert "CHAT_AUTH=open" not in quiet.log()


# -- limits ------------------------------------------------------------------------

def test_rate_limit_is_one_bucket_across_a_users_connections(start_server, clients):
    """Two tabs share a burst of 10: the 11th quick message is refused, not stored; others unaffected."""
    srv = start_server(CHAT_RATE_PER_SECOND="0.2", CHAT_RATE_BURST="10")
    tabs = [clients(srv.connect("spammer")) for _ in range(2)]
    other = clients(srv.connect("calm"))
    for client in tabs + [other]:
        client.sync()
    for i in range(16):
        tabs[i % 2].send(msg=f"spam {i}", cid=f"s{i}")
    outcomes = {}
    for tab in tabs:
        answered = 0
        while answered < 8:  # each tab hears back on its own 8 cids
            frame = tab.recv()
            if frame.get("cid"):
                outcomes[frame["cid"]] = frame.get("code", "stored")
                answered += 1
    limited = [cid for cid, outcome in outcomes.items() if outcome == "rate_limited"]
    assert len(limited) == 6 and len(outcomes) == 16, outcomes
    other.send(msg="still here", cid="calm1")
    assert other.recv_until(lambda f: f.get("cid") == "calm1")["type"] == "message"
    stored = [m["msg"] for m in srv.get("/api/messages?limit=200",
                                        {"Authorization": f"Bearer {srv.token('calm')}"})[1]["messages"]]
    assert not {f"spam {cid[1:]}" for cid in limited} & set(stored)


# -- secrets -----------------------------------------------------------------------

def test_secrets_never_reach_the_log(start_server):
    """Tokens in query strings, passwords and the key stay out of the server's log."""
    srv = start_server()
    status, body, _ = post_token(srv, "quiet_q", PASSWORD)
    token = body["token"]
    client = srv.connect("quiet_q", token=token)
    client.recv()
    client.close()
    post_token(srv, "quiet_q", "a wrong guess")
    srv.get(f"/api/messages?token={token}")
    log = "\n".join(log_lines(srv, "/ws/quiet_q", "GET /api/messages HTTP"))  # the access log is there...
    secret = (srv.data_dir / "secret_key").read_text().strip()
    for leak in (token, PASSWORD, "a wrong guess", secret):
        assert leak not in log  # ...without what would let someone in
    assert "Traceback" not in log
    assert status == 200
