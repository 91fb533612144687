"""The client's errors."""


class ClientError(Exception):
    """Raised for anything that stops a command; the message is for the user."""


class Unreachable(ClientError):
    """The server could not be reached (down, restarting, unknown host, timeout, TLS): `listen` tries again."""
