"""The page's protocol module, chat/static/chat-client.js, under Node's own test runner.

tests/js/ holds its tests: unit tests with fake transports, and tests against live
`python wsgi.py` servers that they start themselves (with this interpreter).
"""

import os
import shutil
import subprocess
import sys

from liveserver import ROOT, timeout

JS_TESTS = ROOT / "tests" / "js"


def test_the_client_module_passes_its_node_tests():
    """`node --test tests/js/` exits 0: connect, acks by cid, resume, resend, backoff, events."""
    node = shutil.which("node")
    assert node, "Node.js is needed: `make test` installs it"
    assert (JS_TESTS / "node_modules" / "ws").is_dir(), \
        "the Node tests need their packages: `make test` (or `cd tests/js && npm ci`) installs them"
    env = {**os.environ, "CHAT_PYTHON": sys.executable}
    result = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout(180), check=False)
    assert result.returncode == 0, f"node --test failed:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
