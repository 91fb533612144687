"""The HTTP views in-process, through Flask's test client: no server process, no sockets."""

import pytest

from chat import create_app


def test_health_answers_ok(client):
    """/healthz is 200 while the store and the broker answer."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_the_page_shows_the_login_form(client):
    """GET / without a session is the login form."""
    response = client.get("/")
    assert response.status_code == 200 and b'name="name"' in response.data


def test_token_then_post_then_history(client, auth):
    """A token, a group message sent with it, and the message in the group's history."""
    headers = auth.bearer("ada")
    sent = client.post("/api/messages", json={"msg": "hello all", "cid": "c1"}, headers=headers)
    assert sent.status_code == 201
    frame = sent.get_json()
    assert frame["from_user"] == "ada" and frame["to_user"] is None and frame["cid"] == "c1"
    again = client.post("/api/messages", json={"msg": "hello all", "cid": "c1"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["id"] == frame["id"]
    history = client.get("/api/messages?with=*", headers=headers).get_json()["messages"]
    assert [m["id"] for m in history] == [frame["id"]]


def test_direct_messages_are_private(client, auth):
    """A direct message is in the history of its two people only."""
    ada, bo, cy = auth.bearer("ada"), auth.bearer("bo"), auth.bearer("cy")
    assert client.post("/api/messages", json={"to_user": "bo", "msg": "psst"}, headers=ada).status_code == 201
    assert [m["msg"] for m in client.get("/api/messages?with=ada", headers=bo).get_json()["messages"]] == ["psst"]
    assert client.get("/api/messages?with=ada", headers=cy).get_json()["messages"] == []


@pytest.mark.parametrize("body, status, code", [
    ({"msg": ""}, 400, "bad_message"),
    ({"msg": "x" * 4001}, 413, "too_long"),
    ({"msg": "hi", "to_user": "nobody_here"}, 404, "unknown_user"),
    ({"msg": "hi", "cid": "c" * 65}, 400, "bad_message"),
])
def test_refused_messages_are_json_errors(client, auth, body, status, code):
    """Each refusal is the protocol's JSON error with a fitting status."""
    response = client.post("/api/messages", json=body, headers=auth.bearer("ada"))
    assert response.status_code == status and response.get_json()["error"]["code"] == code


@pytest.mark.parametrize("path", ["/api/token", "/api/password", "/api/messages"])
def test_nested_json_is_bad_json_on_every_endpoint(client, auth, path):
    """30,000 nested brackets: 400 bad_json, never a 500 (the stdlib parser's RecursionError)."""
    response = client.post(path, data="[" * 30000, content_type="application/json", headers=auth.bearer("nix"))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_json"


def test_unauthenticated_calls_are_401(client):
    """The API needs a session or a token."""
    assert client.get("/api/messages").status_code == 401
    assert client.post("/api/messages", json={"msg": "hi"}).status_code == 401


def test_a_claimed_name_needs_its_password(client, auth):
    """Claiming with a password, then the wrong one is 401 and the right one a token."""
    assert auth.token("dee", "correct horse").status_code == 200
    assert auth.token("dee").status_code == 401
    assert auth.token("dee", "wrong password").get_json()["error"]["code"] == "bad_password"
    assert auth.token("dee", "correct horse").status_code == 200


def test_the_name_rule_reads_the_same_everywhere(client, auth):
    """A bad name is refused with the one wording of the rule."""
    from chat.protocol.names import NAME_RULE
    detail = auth.token("no spaces").get_json()["error"]["detail"]
    assert NAME_RULE in detail


def test_unknown_paths_are_json_404(client):
    """Every HTTP error is JSON."""
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_operator_token_command(runner):
    """`flask chat token NAME` prints a token; a bad name is refused with the rule."""
    result = runner.invoke(args=["chat", "token", "ops"])
    assert result.exit_code == 0 and len(result.output.split()[0]) > 20


def test_runtime_starts_and_stops_cleanly(make_settings):
    """An app can be built, started and stopped twice over the same data directory."""
    for _ in range(2):
        app = create_app(make_settings(auth="open"))
        assert app.test_client().get("/healthz").status_code == 200
        app.extensions["chat"].stop()
