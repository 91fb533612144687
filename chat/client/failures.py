"""What went wrong between the client and the server, in one line for the user."""

import http.client
import json
import socket
import ssl

import websocket

from .errors import ClientError, Unreachable

# A proxy in front of a chat server that is down or restarting answers with one of these.
PROXY_STATUSES = (502, 503, 504)


def unreachable(url, exc):
    """The error for a failure to talk to `url` at all: refused, unknown host, timeout, TLS.

    Unreachable (worth trying again) unless TLS failed: another try would fail the same way.
    """
    kind = ClientError if isinstance(getattr(exc, "reason", exc), ssl.SSLError) else Unreachable
    return kind(f"cannot reach the chat server at {url}: {_network_reason(exc)}")


def _network_reason(exc):
    reason = getattr(exc, "reason", exc)  # urllib wraps the socket's error in a URLError
    if isinstance(reason, websocket.WebSocketAddressException):
        reason = reason.args[0] if reason.args else reason
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve its host name ({reason.strerror})"
    if isinstance(reason, (TimeoutError, websocket.WebSocketTimeoutException)):
        return "no answer in time"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS: {reason.verify_message} (its certificate is not trusted)"
    if isinstance(reason, ssl.SSLError):
        return f"the TLS handshake failed ({reason.reason or reason}): does it speak https?"
    if isinstance(reason, ConnectionResetError):
        return "the connection was reset"
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__


def not_http(url):
    """The server at `url` answered something that is not HTTP (a TLS server spoken to with http://?)."""
    return ClientError(f"{url} does not look like a chat server (its answer is not HTTP)")


def refused(url, status, raw):
    """The error for an HTTP answer `status` with body `raw` that is not what was asked for.

    A chat server's refusals carry {"error": {"code", "detail"}}; anything else is another server.
    """
    try:
        error = json.loads(raw)["error"]
        return ClientError(f"{status} {error['code']}: {error['detail']}")
    except (ValueError, KeyError, TypeError):
        pass
    if status in PROXY_STATUSES:
        return Unreachable(f"cannot reach the chat server at {url}: HTTP {status} from the proxy in front of it")
    return not_a_chat_server(url, f"HTTP {status}")


def not_a_chat_server(url, what):
    """The error for an answer a chat server would not give."""
    return ClientError(f"{url} does not look like a chat server ({what})")


def checked(url, answer, keys):
    """`answer` when it is a JSON object holding `keys`; else the error saying `url` is no chat server."""
    if not isinstance(answer, dict) or not all(key in answer for key in keys):
        raise not_a_chat_server(url, "an unexpected answer")
    return answer


def closed(code, reason):
    """The words for a WebSocket the server closed with `code` and `reason`."""
    if code is None:
        return "the server closed the connection"
    return f"the server closed the connection with {code}" + (f" ({reason})" if reason else "")


# What the network, TLS and HTTP layers raise: OSError covers sockets, TLS and timeouts.
TRANSPORT_ERRORS = (OSError, websocket.WebSocketException, http.client.HTTPException)
