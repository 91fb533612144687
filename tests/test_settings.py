"""The CHAT_* settings: defaults, casts, errors that name the variable, one place for each."""

import dataclasses
import re
from pathlib import Path

import pytest

from chat import settings
from chat.errors import SettingsError


def test_settings_defaults_and_errors():
    """Defaults follow PROTOCOL.md; a bad value names its variable."""
    defaults = settings.from_environ({})
    assert (defaults.host, defaults.port, defaults.auth, defaults.max_frame_bytes) == ("127.0.0.1", 8000, "names", 65536)
    with pytest.raises(SettingsError, match="CHAT_MAX_QUEUE_BYTES"):
        settings.from_environ({"CHAT_MAX_QUEUE_BYTES": "lots"})
    assert settings.from_environ({"CHAT_ALLOWED_ORIGINS": "https://a.example/, http://b:81"}).allowed_origins == (
        "https://a.example", "http://b:81")


def test_database_url_gives_the_sqlite_path():
    """sqlite:///x is relative, sqlite:////x absolute; the default lives in CHAT_DATA_DIR."""
    assert settings.from_environ({"CHAT_DATA_DIR": "/d"}).database_path == "/d/chat.db"
    assert settings.from_environ({"CHAT_DATABASE_URL": "sqlite:////srv/c.db"}).database_path == "/srv/c.db"
    for bad in ("sqlite:///", "sqlite://host/c.db"):
        with pytest.raises(SettingsError, match="CHAT_DATABASE_URL"):
            settings.from_environ({"CHAT_DATABASE_URL": bad})


def test_every_setting_is_read_from_one_variable():
    """SPEC names each field of Settings exactly once, and nothing else."""
    fields = [field for _, field, _ in settings.SPEC]
    assert sorted(fields) == sorted(f.name for f in dataclasses.fields(settings.Settings))
    assert len(set(fields)) == len(fields)


def test_the_readme_lists_every_setting():
    """Each CHAT_* variable the server reads is in the README's settings table, and no other."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = set(re.findall(r"^\|\s*`(CHAT_[A-Z_]+)`", readme, re.MULTILINE))
    listed |= set(re.findall(r"^\|\s*`CHAT_[A-Z_]+`, `(CHAT_[A-Z_]+)`", readme, re.MULTILINE))
    assert {variable for variable, _, _ in settings.SPEC} <= listed


def test_limit_exempt_takes_networks_or_nothing():
    """CHAT_LIMIT_EXEMPT: loopback by default, a list of addresses and networks, empty for none."""
    assert [str(n) for n in settings.from_environ({}).limit_exempt] == ["127.0.0.0/8", "::1/128"]
    listed = settings.from_environ({"CHAT_LIMIT_EXEMPT": "10.1.2.3, 192.168.0.0/16,2001:db8::/32"})
    assert [str(n) for n in listed.limit_exempt] == ["10.1.2.3/32", "192.168.0.0/16", "2001:db8::/32"]
    assert settings.from_environ({"CHAT_LIMIT_EXEMPT": ""}).limit_exempt == ()
    with pytest.raises(SettingsError, match="CHAT_LIMIT_EXEMPT: 'localhost'"):
        settings.from_environ({"CHAT_LIMIT_EXEMPT": "127.0.0.1,localhost"})
    with pytest.raises(SettingsError, match="CHAT_HEADER_TIMEOUT"):
        settings.from_environ({"CHAT_HEADER_TIMEOUT": "0"})
