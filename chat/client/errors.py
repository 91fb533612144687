"""The client's one error."""


class ClientError(Exception):
    """Raised for anything that stops a command; the message is for the user."""
