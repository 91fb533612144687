"""In-process fixtures, like flaskr's: an app on a temporary database, its test client, an auth helper."""

import dataclasses

import pytest

from chat import create_app
from chat.settings import Settings


@pytest.fixture
def settings(tmp_path):
    """Default settings on a temporary data directory (names mode)."""
    return Settings(data_dir=str(tmp_path / "data"))


@pytest.fixture
def app(settings):
    """The Flask app, its runtime started; stopped after the test."""
    app = create_app(settings)
    app.config.update(TESTING=True)
    yield app
    app.extensions["chat"].stop()


@pytest.fixture
def client(app):
    """Flask's test client of `app`."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask's CLI runner of `app` (`flask chat ...`)."""
    return app.test_cli_runner()


class AuthActions:
    """Log-ins through the HTTP API, as a client would."""

    def __init__(self, client):
        self._client = client
        self._bearers = {}

    def token(self, name, password=None):
        """POST /api/token; the response."""
        body = {"name": name} if password is None else {"name": name, "password": password}
        return self._client.post("/api/token", json=body)

    def bearer(self, name, password=None):
        """An Authorization header for `name`: its first log-in's token, kept (a guest's
        name is held by that session, so a second log-in would be name_taken)."""
        if (name, password) not in self._bearers:
            response = self.token(name, password)
            assert response.status_code == 200, response.get_json()
            self._bearers[name, password] = {"Authorization": f"Bearer {response.get_json()['token']}"}
        return self._bearers[name, password]


@pytest.fixture
def auth(client):
    """Log-in helper (see AuthActions)."""
    return AuthActions(client)


@pytest.fixture
def make_settings(tmp_path):
    """Settings with some fields changed."""
    return lambda **changes: dataclasses.replace(Settings(data_dir=str(tmp_path / "data")), **changes)
