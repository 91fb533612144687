"""Names, client frames and server frames, pure."""

import orjson
import pytest

from chat.errors import FrameRejected
from chat.protocol.client_frames import parse_client_frame, parse_json
from chat.protocol.names import name_key, normalize_name
from chat.protocol.server_frames import utc_timestamp


@pytest.mark.parametrize("raw, expected", [
    ("alice", "alice"), ("Zoë", "Zoë"), ("李雷", "李雷"), ("a.b-c_d", "a.b-c_d"), ("x" * 32, "x" * 32),
    ("", None), ("x" * 33, None), ("a b", None), ("a/b", None), ("😀", None), (None, None),
    (".", None), ("..", None), ("....", None), (".a.", ".a."),
])
def test_username_rules(raw, expected):
    """Letters, digits, _ - . only, 1 to 32 of them, not only dots."""
    assert normalize_name(raw) == expected


def test_names_are_one_user_regardless_of_case_and_composition():
    """Case and NFC differences do not make another user."""
    assert name_key("ALICE") == name_key("alice")
    assert name_key(normalize_name("e\u0301")) == name_key("\u00e9")


def test_validation_reports_the_cid_when_it_can():
    """An error keeps the frame's cid, so the client can match it."""
    with pytest.raises(FrameRejected) as info:
        parse_client_frame('{"msg": "", "cid": "k"}', 4000)
    assert (info.value.code, info.value.cid) == ("bad_message", "k")


def test_timestamps_are_utc_with_milliseconds():
    """ts looks like 2026-11-21T05:30:00.123Z."""
    assert utc_timestamp(1795239000.1234) == "2026-11-21T05:30:00.123Z"


@pytest.mark.parametrize("text", ["[" * 30000, "[" * 1100 + "]" * 1100, '{"a":' * 5000, "1" * 400, "{not json"])
def test_nested_or_huge_json_is_bad_json(text):
    """One parser for frames and bodies: deep nesting and huge numbers are bad_json, no crash."""
    with pytest.raises(FrameRejected) as info:
        parse_json(text)
    assert info.value.code == "bad_json"


@pytest.mark.parametrize("msg", [" ", "\t\n ", "\x00", "\u202e\u200b", "\u3164", "\u115f\u1160\uffa0", "\u00a0\u2028"])
def test_a_message_with_nothing_visible_is_bad_message(msg):
    """White space, controls, default-ignorables and Hangul fillers alone are refused."""
    with pytest.raises(FrameRejected) as info:
        parse_client_frame(orjson.dumps({"msg": msg, "cid": "b"}), 4000)
    assert (info.value.code, info.value.cid) == ("bad_message", "b")


@pytest.mark.parametrize("msg", [" x", "\u200bhi", ".", "😀", "\u3164ㄱ"])
def test_a_message_with_something_visible_passes(msg):
    """One visible character is enough."""
    assert parse_client_frame(orjson.dumps({"msg": msg}), 4000).msg == msg
