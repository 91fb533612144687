"""The chat server: `create_app()` builds the Flask application."""


def create_app(settings=None):
    """Build the app from `settings` (default: the CHAT_* environment)."""
    # Imported here, not above: gunicorn's master reads chat.settings before its workers
    # patch the standard library, and must not import Flask, Redis or ssl first.
    from .app import create_app as build  # pylint: disable=import-outside-toplevel
    return build(settings)
