"""deploy/chat.service, the unit docs/deployment.md tells operators to install, checked by
systemd's own `systemd-analyze` in a root of its own (no systemd needs to run)."""

import shutil
import subprocess

import pytest

from liveserver import ROOT, timeout

UNIT = ROOT / "deploy" / "chat.service"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed (Debian's systemd package has it)")


def settings(unit_text):
    """The unit's `Key=value` lines as {key: [values]}."""
    found = {}
    for line in unit_text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture
def unit_root(tmp_path):
    """A root holding the unit in /etc/systemd/system, Debian's own units beside it (the
    targets it names), and stand-ins for the programs it runs, which verify checks are
    executable."""
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/chat.service")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for line in settings(UNIT.read_text())["ExecStart"] + settings(UNIT.read_text())["ExecReload"]:
        program = root / line.split()[0].lstrip("/")
        program.parent.mkdir(parents=True, exist_ok=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    return root


def analyze(root, *args):
    """`systemd-analyze ARGS` on the unit in `root`; the finished process."""
    return subprocess.run(["systemd-analyze", *args, f"--root={root}", "/etc/systemd/system/chat.service"],
                          capture_output=True, text=True, timeout=timeout(60), check=False)


def test_the_unit_passes_systemd_analyze_verify(unit_root):
    """verify accepts it without a word (a misspelt key or a bad value is only a warning:
    any output fails)."""
    done = analyze(unit_root, "verify")
    assert done.returncode == 0 and not done.stdout and not done.stderr, done.stdout + done.stderr


def test_the_unit_is_hardened(unit_root):
    """gunicorn as the user chat with its data in /var/lib/chat, the only path it may write;
    systemd's exposure score of the sandbox stays at "OK" (4.0 or less)."""
    found = settings(UNIT.read_text())
    assert found["User"] == ["chat"]
    assert found["ExecStart"][0].endswith("/.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app")
    assert "CHAT_DATA_DIR=/var/lib/chat" in found["Environment"][0].split()
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("ReadWritePaths", "/var/lib/chat"), ("StateDirectory", "chat")):
        assert found[key] == [value], key
    done = analyze(unit_root, "security", "--offline=yes", "--threshold=40")
    assert done.returncode == 0, done.stdout[-300:] + done.stderr
