"""The WSGI handler: gevent's, with a strict RFC 6455 handshake and an accept the app decides.

The application accepts or refuses the upgrade with a normal HTTP response; once
it accepts, the handler lets the socket outlive the request (see `_hand_over`).
"""

import base64
import binascii
import logging
import time

import gevent
import gevent.socket
import orjson
from gevent.pywsgi import WSGIHandler
from geventwebsocket.handler import WebSocketHandler

from .request_headers import RequestHeaders
from .connection import State
from .websocket import CLOSE_TIMEOUT, ChatWebSocket

access_log = logging.getLogger("chat.access")


def handshake_problem(environ):
    """Return (status, detail) when the request is a malformed WebSocket handshake."""
    if environ.get("SERVER_PROTOCOL") != "HTTP/1.1":
        return "400 Bad Request", "WebSocket needs HTTP/1.1"
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13":
        return "426 Upgrade Required", "only WebSocket version 13 is supported"
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error):
        return "400 Bad Request", "Sec-WebSocket-Key must be 16 bytes in base64"
    return None


def json_error_body(code, detail):
    """The protocol's JSON error body, as bytes."""
    return orjson.dumps({"error": {"code": code, "detail": detail}})


class HeadersTooSlow(TimeoutError):
    """A request's line and headers took longer than CHAT_HEADER_TIMEOUT."""


class ChatHandler(WebSocketHandler):
    """gevent's WSGI handler with a strict handshake, an application-driven accept and a
    deadline for each request's headers."""

    MessageClass = RequestHeaders  # headers read without the email parser
    header_timeout = 10.0  # CHAT_HEADER_TIMEOUT; see configured()
    _headers_due = None

    @classmethod
    def configured(cls, settings):
        """This handler with the deadline of `settings` (CHAT_HEADER_TIMEOUT)."""
        return type(cls.__name__, (cls,), {"header_timeout": settings.header_timeout})

    def handle_one_request(self):
        """Read and answer one request; close the connection when its headers are not all in
        within header_timeout of the connection opening or the previous response ending
        (a slowloris client would otherwise hold a greenlet and a socket for ever)."""
        self._headers_due = gevent.Timeout.start_new(self.header_timeout, HeadersTooSlow)
        try:
            return super().handle_one_request()
        except HeadersTooSlow:
            return None  # it fired outside the reads gevent catches it in: close all the same
        finally:
            self._headers_due.close()

    def read_request(self, raw_requestline):
        """Parse the request line and read the headers; the deadline ends with them."""
        try:
            return super().read_request(raw_requestline)
        finally:
            self._headers_due.close()

    def _handle_client_error(self, ex):
        if isinstance(ex, HeadersTooSlow):
            self.close_connection = True
            return None  # no answer: the client was too slow to be owed one
        return super()._handle_client_error(ex)

    def get_environ(self):
        """The WSGI environ, with the raw socket for event streams."""
        environ = super().get_environ()
        environ["chat.socket"] = self.socket  # event streams watch it for the client leaving
        return environ

    def run_application(self):
        """Serve plain HTTP as gevent does; check an upgrade's handshake, then hand the socket to the app."""
        if not self._upgrade_requested():
            return WSGIHandler.run_application(self)
        problem = handshake_problem(self.environ)
        if problem:
            return self._refuse(*problem)
        self.websocket = ws = ChatWebSocket(self)
        self.environ["wsgi.websocket"] = ws
        self.environ["wsgi.websocket_version"] = "13"
        try:
            self._run_websocket_app(ws)
        finally:
            self.environ["wsgi.websocket"] = None
            self.websocket = None
        return None

    def _run_websocket_app(self, ws):
        try:
            self.result = self.application(self.environ, self._start_response_until_upgrade)
            if ws.state is State.CONNECTING:
                self.process_result()
        except Exception:
            if ws.state is State.CONNECTING:
                raise
            ws.fail_internally("WebSocket application")
        finally:
            close = getattr(self.result, "close", None)
            self.result = None
            if close is not None:
                close()
            if ws.state is not State.CONNECTING:
                self.close_connection = True
                if ws.listening and not ws.closed:
                    self._log_at_close(ws)
                    self._hand_over(ws)
                else:
                    ws.finish()
                    self._log_access(101, time.time(), ws.close_code)

    def _log_at_close(self, ws):
        """Write the socket's access line when it leaves OPEN, before whatever was to run then."""
        then = ws.on_close

        def closed(conn):
            self._log_access(101, time.time(), conn.close_code)
            if then is not None:
                then(conn)
        ws.on_close = closed

    def _hand_over(self, ws):
        # The socket outlives this handler: detached, gevent's server cannot close it,
        # and the greenlet, request and buffered reader go once the handler returns.
        # The writer sends through the socket object being replaced: let it finish first.
        while ws.writing and not ws.closed:
            ws.flush(CLOSE_TIMEOUT)
        if ws.closed:
            ws.finish()
            return
        sock = self.socket
        self.socket = None
        ws.adopt(gevent.socket.socket(sock.family, sock.type, fileno=sock.detach()))

    def _start_response_until_upgrade(self, status, headers, exc_info=None):
        if self.websocket is not None and self.websocket.state is not State.CONNECTING:
            return lambda data: None  # the app's response after a session is moot
        return self.start_response(status, headers, exc_info)

    def _upgrade_requested(self):
        env = self.environ
        return (env.get("REQUEST_METHOD") == "GET"
                and env.get("HTTP_UPGRADE", "").lower() == "websocket"
                and "upgrade" in env.get("HTTP_CONNECTION", "").lower())

    def _refuse(self, status, detail):
        body = json_error_body("bad_handshake", detail)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if status.startswith("426"):
            headers.append(("Sec-WebSocket-Version", "13"))
        self.close_connection = True
        self.start_response(status, headers)
        self.write(body)

    def _prepare_response(self):
        # Only a real upgrade changes how the response is framed.
        if self.code == 101:
            super()._prepare_response()

    def log_request(self):
        """The access line of a finished request (an event stream's ends when it closes);
        a WebSocket's is written when it closes (see _log_at_close)."""
        if self.code != 101:
            # gevent negates the code when a write failed (the client left mid-response)
            self._log_access(abs(self.code or 0), self.time_finish or time.time())

    def _log_access(self, status, finished, close_code=None):
        """One line on the `chat.access` logger: the client's address (the real one behind
        CHAT_TRUSTED_PROXIES: ProxyFix sets REMOTE_ADDR in this environ), the path without
        its query string (it may hold ?token=), status, bytes sent, seconds taken."""
        environ = self.environ or {}
        client = environ.get("REMOTE_ADDR") or (self.client_address[0] if isinstance(self.client_address, tuple)
                                                else self.client_address) or "-"
        method, path, protocol = _request_line_parts(self.requestline or "")
        fields = {"client": client, "method": method or "-", "path": _quoted_path(path), "protocol": protocol or "-",
                  "status": status or 0, "bytes": self.response_length or 0,
                  "duration": round(finished - self.time_start, 6) if self.time_start else 0.0}
        text = (f'{client} "{fields["method"]} {fields["path"]} {fields["protocol"]}" {fields["status"]} '
                f'{fields["bytes"]} {fields["duration"]:.6f}s')
        if close_code is not None:
            fields["close_code"] = close_code
            text += f" close {close_code}"
        access_log.info("%s", text, extra=fields)


def _request_line_parts(line):
    """(method, path, protocol) of a raw request line ("GET /ws/a?token=x HTTP/1.1"), as far as it goes."""
    parts = line.split(" ")
    return tuple(parts[:3]) + (None,) * (3 - len(parts[:3]))


def _quoted_path(path):
    """The path as the access line shows it: no query string, no spaces or control characters."""
    path = (path or "-").split("?", 1)[0]
    return "".join(c if c.isprintable() and c != " " else f"%{ord(c):02X}" for c in path)
