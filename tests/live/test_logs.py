"""The server's logs, from `python wsgi.py` and from gunicorn: one timestamp a line, a line for
each WebSocket and event stream written when it closes (path without the query string, status,
the real client address, the connection's duration), and CHAT_LOG_FORMAT=json."""

import json
import re
import time

import pytest

from liveserver import EventStreamClient, Server, log_lines, timeout

SERVERS = pytest.mark.parametrize("gunicorn", [False, True], ids=["wsgi.py", "gunicorn"])
DATE = re.compile(r"\d{4}-\d\d-\d\d")
HELD = 0.3  # seconds each connection stays open


def open_and_close(srv, user, headers=None):
    """Open a WebSocket and an event stream for `user` with ?token=, hold each HELD seconds, close."""
    token = srv.token(user)
    sock = srv.connect(user, header=[f"{k}: {v}" for k, v in (headers or {}).items()])
    sock.sync()
    time.sleep(HELD)
    sock.close()
    stream = EventStreamClient(srv, f"/events/{user}?token={token}", headers=headers)
    assert stream.status == 200
    stream.next_event()
    time.sleep(HELD)
    stream.close()
    return token


def the_line(lines, path):
    """The one log line of `path`."""
    found = [line for line in lines if f" {path} " in line or f'"{path}"' in line]
    assert len(found) == 1, (path, lines)
    return found[0]


@SERVERS
def test_access_lines_have_one_timestamp_and_sockets_are_logged_at_close(start_server, gunicorn):
    """Every line has one date; the socket's line (101) and the stream's (200) come at close,
    with the time they were open, and no query string, no token anywhere."""
    srv = start_server(gunicorn=gunicorn)
    token = open_and_close(srv, "logged_w")
    srv.get("/healthz?probe=1")
    lines = log_lines(srv, "/ws/logged_w", "/events/logged_w", "/healthz")
    assert all(len(DATE.findall(line)) == 1 for line in lines), lines
    assert token not in srv.log() and "?" not in srv.log()
    for path, status in (("/ws/logged_w", 101), ("/events/logged_w", 200)):
        line = the_line(lines, path)
        match = re.search(rf'127\.0\.0\.1 "GET {path} HTTP/1\.1" {status} \d+ (\d+\.\d+)s', line)
        assert match, line
        assert HELD <= float(match.group(1)) < HELD + timeout(5), line
    assert the_line(lines, "/ws/logged_w").endswith(" close 1000")


def test_the_real_client_address_behind_a_proxy(start_server):
    """With CHAT_TRUSTED_PROXIES=1 the line gives X-Forwarded-For's address, not the proxy's."""
    srv = start_server(CHAT_TRUSTED_PROXIES="1")
    open_and_close(srv, "proxied_w", headers={"X-Forwarded-For": "203.0.113.7"})
    lines = log_lines(srv, "/ws/proxied_w", "/events/proxied_w")
    for path in ("/ws/proxied_w", "/events/proxied_w"):
        assert the_line(lines, path).split(": ", 1)[1].startswith('203.0.113.7 "GET'), lines


@SERVERS
def test_json_logs_are_one_object_a_line(start_server, gunicorn):
    """CHAT_LOG_FORMAT=json: every line is a JSON object; access lines carry their fields as keys."""
    srv = start_server(gunicorn=gunicorn, CHAT_LOG_FORMAT="json")
    open_and_close(srv, "json_w")
    lines = log_lines(srv, "/ws/json_w", "/events/json_w")
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records), records
    assert all(record["time"].endswith("Z") and len(DATE.findall(record["time"])) == 1 for record in records)
    access = {record["path"]: record for record in records if record["logger"] == "chat.access"}
    socket, stream = access["/ws/json_w"], access["/events/json_w"]
    assert (socket["status"], socket["method"], socket["client"], socket["close_code"]) == (101, "GET", "127.0.0.1", 1000)
    assert stream["status"] == 200 and HELD <= stream["duration"] and HELD <= socket["duration"]


@SERVERS
def test_a_bad_log_format_stops_the_start(tmp_path, gunicorn):
    """CHAT_LOG_FORMAT=xml: the server does not start, and says why in one line."""
    srv = Server(tmp_path, {"CHAT_LOG_FORMAT": "xml"}, gunicorn)
    with pytest.raises(RuntimeError, match="server exited with 1"):
        srv.start()
    assert srv.log() == "chat: cannot start: CHAT_LOG_FORMAT='xml' must be one of text, json\n"
