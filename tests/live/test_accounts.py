"""The attacks of issue 38 against a live server: each one refused (contract v2, names and accounts)."""

import http.cookiejar
import json
import urllib.parse
import urllib.request

import pytest

from liveserver import timeout


def post(srv, path, body, headers=None):
    """POST a JSON body; (status, error code or body)."""
    status, answer, _ = srv.request("POST", path, body, headers)
    return status, answer["error"]["code"] if isinstance(answer, dict) and "error" in answer else answer


class Browser:
    """Cookies and form posts, without following redirects."""

    def __init__(self, srv):
        self.srv = srv
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def form(self, path, **fields):
        """POST a form; the status."""
        request = urllib.request.Request(self.srv.url + path, data=urllib.parse.urlencode(fields).encode())
        try:
            with self.opener.open(request, timeout=timeout(10)) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    def get(self, path, cookie=None):
        """GET with this browser's cookies (or the raw `cookie` header); (status, body)."""
        request = urllib.request.Request(self.srv.url + path, headers={"Cookie": cookie} if cookie else {})
        opener = urllib.request.build_opener(_NoRedirect) if cookie else self.opener
        try:
            with opener.open(request, timeout=timeout(10)) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def cookie(self):
        """The Cookie header this browser sends."""
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_no_take_over_of_a_guest_online(server, name):
    """A name held by a guest online: another log-in is name_taken, and the owner's socket lives."""
    owner = name("frank")
    socket = server.connect(owner)
    socket.sync()
    assert post(server, "/api/token", {"name": owner}) == (401, "name_taken")
    assert post(server, "/api/token", {"name": owner, "password": "a password of mine"}) == (401, "name_taken")
    socket.send(msg="still here", cid="k1")
    assert socket.recv_until(lambda frame: frame.get("cid") == "k1")["msg"] == "still here"


def test_logout_revokes_the_cookie_and_the_next_holder_reads_nothing(server, name):
    """After logout the replayed cookie is nobody, and whoever takes the name sees no old DMs."""
    guest, friend = name("gina"), name("hugo")
    friendly = {"Authorization": f"Bearer {server.token(friend)}"}
    browser = Browser(server)
    assert browser.form("/login", name=guest) == 302
    cookie = browser.cookie()
    assert "Expires" in str(browser.jar) or any(c.expires for c in browser.jar)
    status, _ = browser.get("/api/users")
    assert status == 200
    request = urllib.request.Request(server.url + "/api/messages", data=json.dumps(
        {"to_user": friend, "msg": "just between us"}).encode(), headers={"Content-Type": "application/json"})
    with browser.opener.open(request, timeout=timeout(10)) as response:
        assert response.status == 201
    assert browser.form("/logout") == 302
    assert browser.get("/api/users", cookie=cookie)[0] == 401
    newcomer = {"Authorization": f"Bearer {server.token(guest)}"}
    status, body, _ = server.request("GET", f"/api/messages?with={friend}", headers=newcomer)
    assert (status, body["messages"]) == (200, [])
    status, body, _ = server.request("GET", f"/api/messages?with={guest}", headers=friendly)
    assert (status, body["messages"]) == (200, [])


def test_logout_closes_that_sessions_sockets_only(server, name):
    """A claimed name logged in twice: logging one browser out closes its socket (1008),
    and the socket of the other session goes on."""
    owner = name("ida")
    status, body, _ = server.request("POST", "/api/token", {"name": owner, "password": "a long password"})
    assert status == 200
    other = server.connect(owner, token=body["token"])
    other.sync()
    browser = Browser(server)
    assert browser.form("/login", name=owner, password="a long password") == 302
    mine = server.connect(owner, token=False, cookie=browser.cookie())
    mine.sync()
    assert browser.form("/logout") == 302
    assert mine.close_frame()[0] == 1008
    other.send(msg="still in", cid="k2")
    assert other.recv_until(lambda frame: frame.get("cid") == "k2")["msg"] == "still in"


@pytest.mark.parametrize("look_alike", ["\u0430lice", "\uff41lice", "\U0001d41alice", "\u0251lice", "al\u0131ce",
                                        "alice\u3164", "\u3164", "b\u03bfb", ".", ".."])
def test_look_alikes_and_invisible_names_are_refused(server, look_alike):
    """Each look-alike of alice (or bob), and each name showing nothing, is bad_name."""
    server.token("alice")
    assert post(server, "/api/token", {"name": look_alike}) == (400, "bad_name")


def test_deeply_nested_json_is_bad_json_without_a_traceback(server):
    """30,000 nested brackets on /api/token: 400 bad_json, and no RecursionError in the log."""
    status, body, _ = server.request("POST", "/api/token", raw=b"[" * 30000,
                                     headers={"Content-Type": "application/json"})
    assert (status, body["error"]["code"]) == (400, "bad_json")
    assert "RecursionError" not in server.log_path.read_text()


def test_a_blank_message_is_refused_and_the_socket_lives(server, name):
    """White space, NUL or invisible characters alone: bad_message with the cid; nothing stored."""
    client = server.connect(name("blank"))
    client.sync()
    for n, text in enumerate([" \t", "\u0000", "\u202e\u200b", "\u3164"]):
        client.send(msg=text, cid=f"b{n}")
        frame = client.recv_until(lambda f, cid=f"b{n}": f.get("cid") == cid)
        assert (frame["type"], frame["code"]) == ("error", "bad_message")
    client.send(msg="visible", cid="v")
    assert client.recv_until(lambda f: f.get("cid") == "v")["type"] == "message"
