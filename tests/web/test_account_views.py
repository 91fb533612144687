"""Names that belong to accounts (contract v2), in-process: guests hold their names,
sessions end, look-alikes are refused, accounts are erased."""

import time

import pytest

from chat import create_app


def _error(response):
    return response.status_code, response.get_json()["error"]["code"]


def test_a_guest_holds_its_name_while_its_session_lives(client, auth):
    """The take-over: a second log-in under a guest's name, with or without a password, is name_taken."""
    assert auth.token("frank").status_code == 200
    assert _error(auth.token("frank")) == (401, "name_taken")
    assert _error(auth.token("FRANK", "a new password")) == (401, "name_taken")


def test_only_the_guest_claims_its_name(client, auth):
    """The holder sets a password from its own session; then the name needs it anywhere."""
    holder = auth.bearer("gwen")
    response = client.post("/api/password", json={"password": "correct horse"}, headers=holder)
    assert response.status_code == 200
    assert _error(auth.token("gwen")) == (401, "bad_password")
    assert auth.token("gwen", "correct horse").status_code == 200
    # The token the claim answered with goes on; changing the password needs the current one.
    claimed = {"Authorization": f"Bearer {response.get_json()['token']}"}
    assert _error(client.post("/api/password", json={"password": "battery staple"}, headers=claimed)) == \
        (403, "bad_password")


def _log_in(client, name, password=""):
    return client.post("/login", data={"name": name, "password": password})


def test_logout_ends_the_session_on_the_server(app):
    """A cookie replayed after logout is no longer anyone; the guest's name is free again."""
    browser = app.test_client()
    _log_in(browser, "hana")
    cookie = browser.get_cookie("session")
    assert cookie.expires is not None, "the cookie carries an expiry"
    assert browser.get("/api/users").status_code == 200
    browser.post("/logout")
    replay = app.test_client()
    replay.set_cookie("session", cookie.value)
    assert replay.get("/api/users").status_code == 401
    assert b'name="name"' in replay.get("/").data  # the login form
    assert _log_in(app.test_client(), "hana").status_code == 302


def test_a_name_taken_again_sees_nothing_of_the_old_account(app, client, auth):
    """After the guest logs out, whoever takes the name is a new account: the old DMs are gone."""
    first = app.test_client()
    _log_in(first, "ivan")
    assert first.post("/api/messages", json={"to_user": "jill", "msg": "a secret"}).status_code == 404
    jill = auth.bearer("jill")
    assert first.post("/api/messages", json={"to_user": "jill", "msg": "a secret"}).status_code == 201
    assert first.post("/api/messages", json={"msg": "to everyone"}).status_code == 201
    first.post("/logout")
    second = app.test_client()
    _log_in(second, "ivan")
    assert second.get("/api/messages?with=jill").get_json()["messages"] == []
    assert client.get("/api/messages?with=ivan", headers=jill).get_json()["messages"] == []
    group = client.get("/api/messages", headers=jill).get_json()["messages"]
    assert [(m["msg"], m.get("deleted")) for m in group] == [("", True)]


@pytest.mark.parametrize("look_alike", [
    "\u0430lice", "\uff41\uff4c\uff49\uff43\uff45", "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e",
    "\u0251lice", "al\u0131ce", "ALICE\u3164", "\u3164", "b\u03bfb", ".", "..",
])
def test_look_alikes_are_refused(client, auth, look_alike):
    """Names that pass for alice (or bob), or show nothing, are bad_name."""
    auth.bearer("alice")
    assert _error(auth.token(look_alike)) == (400, "bad_name")


def test_mixed_scripts_that_belong_together_pass(auth):
    """Latin with Han and Kana is highly restrictive, and allowed."""
    assert auth.token("山田taroアリス").status_code == 200


def test_deleting_an_account_needs_its_password_and_erases_it(client, auth):
    """DELETE /api/account: 403 without the password; then the name is free and its DMs gone."""
    kai = auth.bearer("kai")
    lea = auth.bearer("lea")
    client.post("/api/password", json={"password": "kai's password"}, headers=kai)
    kai = auth.bearer("kai", "kai's password")
    client.post("/api/messages", json={"to_user": "lea", "msg": "hello lea"}, headers=kai)
    assert _error(client.delete("/api/account", json={"password": "wrong one!"}, headers=kai)) == \
        (403, "bad_password")
    assert client.delete("/api/account", json={"password": "kai's password"}, headers=kai).status_code == 200
    assert client.get("/api/users", headers=kai).status_code == 401
    assert client.get("/api/messages?with=kai", headers=lea).status_code == 404
    assert auth.token("kai").status_code == 200


def test_the_operator_deletes_an_account(runner, auth):
    """`flask chat delete-account NAME` erases it; an unknown name fails."""
    auth.bearer("moe")
    assert runner.invoke(args=["chat", "delete-account", "moe"]).exit_code == 0
    assert runner.invoke(args=["chat", "delete-account", "moe"]).exit_code != 0
    assert auth.token("moe").status_code == 200


def test_an_expired_guest_frees_its_name_at_the_next_log_in(make_settings):
    """With a 1 s lifetime, the guest's token ends and the next log-in takes the name afresh."""
    app = create_app(make_settings(token_lifetime=1.0))
    try:
        client = app.test_client()
        assert client.post("/api/token", json={"name": "ned"}).status_code == 200
        assert client.post("/api/token", json={"name": "ned"}).status_code == 401
        time.sleep(1.2)
        assert client.post("/api/token", json={"name": "ned"}).status_code == 200
    finally:
        app.extensions["chat"].stop()


def test_new_accounts_per_address_are_limited(make_settings):
    """The 11th new account an hour from one (non-loopback) address is 429 too_many_accounts."""
    app = create_app(make_settings(accounts_per_address=10))
    try:
        client = app.test_client()
        outside = {"REMOTE_ADDR": "203.0.113.7"}
        for n in range(10):
            assert client.post("/api/token", json={"name": f"flood{n}"}, environ_base=outside).status_code == 200
        assert _error(client.post("/api/token", json={"name": "flood10"}, environ_base=outside)) == \
            (429, "too_many_accounts")
        other = {"REMOTE_ADDR": "203.0.113.8"}
        assert client.post("/api/token", json={"name": "flood10"}, environ_base=other).status_code == 200
    finally:
        app.extensions["chat"].stop()
