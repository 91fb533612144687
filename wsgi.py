"""Entry point: `python wsgi.py` serves with gevent; gunicorn imports `app` from here."""

from gevent import monkey

monkey.patch_all()

# pylint: disable=wrong-import-position
import logging

from chat.server import build_app, serve

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

app = build_app()

if __name__ == "__main__":
    serve(app)
