"""The chat server: `create_app()` builds the Flask application."""

import os

from flask import Flask

from . import settings as settings_module
from .auth import load_secret_key
from .errors import SettingsError
from .services import Services


def create_app(settings=None):
    """Build the app from `settings` (default: the CHAT_* environment)."""
    settings = settings or settings_module.from_environ()
    try:
        os.makedirs(settings.data_dir, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"CHAT_DATA_DIR={settings.data_dir!r}: {exc.strerror}") from None
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(__name__, template_folder=os.path.join(root, "templates"))
    secret_key = load_secret_key(settings)
    app.config.update(SECRET_KEY=secret_key, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_HTTPONLY=True, JSON_SORT_KEYS=False)
    app.extensions["chat"] = Services(settings, secret_key)

    from . import api, pages, sockets  # pylint: disable=import-outside-toplevel
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(sockets.bp)
    api.register_error_handlers(app)
    return app
