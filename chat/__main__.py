"""`python -m chat` (and the `chat-server` command): serve on CHAT_HOST:CHAT_PORT with gevent."""

from gevent import monkey

monkey.patch_all()  # before anything imports socket, ssl or threading

# pylint: disable=wrong-import-position
import logging

from chat.server import build_app, serve


def main():
    """Build the app from the environment and serve it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(build_app())


if __name__ == "__main__":
    main()
