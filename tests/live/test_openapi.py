"""/api/openapi.json matches what the server does: schemathesis against a live server."""

import subprocess
import sys
from pathlib import Path

from liveserver import UNLIMITED, timeout

# An endless stream cannot be fuzzed request by request (tests/test_http_api.py covers it),
# /api/password would claim the fuzzing user's name and end its token (test_security.py), and
# /api/account would erase it (tests/web/test_account_views.py).
EXCLUDED = ("/events/{username}", "/api/password", "/api/account")


def test_every_documented_path_exists(server):
    """Each path of the document is served (nothing documented is a 404 route)."""
    status, document, _ = server.get("/api/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        concrete = path.replace("{username}", "someone").replace("{name}", "someroom").replace("{id}", "1")
        for method in operations:
            got, body, _ = server.request(method.upper(), concrete, {} if method in ("post", "patch") else None)
            assert got != 404 or body["error"]["code"] in ("unknown_user", "unknown_room", "not_found"), \
                (method, path, got, body)
            assert got != 405, (method, path)


def test_schemathesis_finds_no_mismatch(start_server, tmp_path):
    """Every check of schemathesis passes on generated requests, valid and invalid."""
    srv = start_server(**UNLIMITED)
    token = srv.token("schemathesis")
    config = Path(__file__).resolve().parents[1] / "schemathesis.toml"
    command = [str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run", f"{srv.url}/api/openapi.json",
               "--max-examples", "25", "--seed", "1",
               "--header", f"Authorization: Bearer {token}"]
    for path in EXCLUDED:
        command += ["--exclude-path", path]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=timeout(300), check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout
