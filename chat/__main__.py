"""`python -m chat` (and the `chat-server` command): serve on CHAT_HOST:CHAT_PORT with gevent."""

from gevent import monkey

monkey.patch_all()  # before anything imports socket, ssl or threading

# pylint: disable=wrong-import-position
from chat.server import build_app, serve


def main():
    """Build the app from the environment and serve it."""
    serve(build_app())


if __name__ == "__main__":
    main()
