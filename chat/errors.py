"""Every exception the chat server raises on purpose, under one root, and the line a refused start ends with."""

import sys


class ChatError(Exception):
    """Raised for any failure the chat server anticipates."""


class SettingsError(ChatError):
    """Raised when a CHAT_* setting is malformed; the message names it."""


class TransportError(ChatError):
    """Raised when a WebSocket connection must end; `code` is the close code."""

    code = 1011


class ConnectionLost(TransportError):
    """Raised when the peer went away without a close handshake."""

    code = 1006


class ProtocolViolation(TransportError):
    """Raised when a client breaks RFC 6455 (close 1002)."""

    code = 1002


class FrameTooBig(TransportError):
    """Raised when a frame or message announces more than the size limit (close 1009)."""

    code = 1009


class StoreUnavailable(ChatError):
    """Raised when the database cannot take a write or answer (full disk, I/O error, server down)."""


class BrokerUnavailable(ChatError):
    """Raised when the broker (Redis) does not answer."""


class TooManyConnections(ChatError):
    """Raised when a user already has the most connections allowed."""


class FrameRejected(ChatError):
    """Raised when a client frame is refused; it becomes an `error` frame."""

    def __init__(self, code, detail, cid=None):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.cid = cid


class Refused(ChatError):
    """Raised when a request is refused; it becomes an HTTP error (status, code, detail)."""

    def __init__(self, status, code, detail, retry_after=None):
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


class LoginRefused(Refused):
    """Raised when a log-in or password change is refused."""


class RoomRefused(Refused):
    """Raised when a room's creation, a membership change or a look at a room is refused."""


def refuse_start(problem):
    """End the process with the one line every refused start prints, exit status 1."""
    sys.exit(f"chat: cannot start: {problem}")
