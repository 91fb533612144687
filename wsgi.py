"""Entry point: `python wsgi.py` serves with gevent; gunicorn imports `app` from here."""

from gevent import monkey

monkey.patch_all()

# pylint: disable=wrong-import-position
from chat.server import build_app, serve

app = build_app()

if __name__ == "__main__":
    serve(app)
