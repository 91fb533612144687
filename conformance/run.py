"""Run Autobahn|Testsuite's fuzzing client against the echo endpoint of a live server.

Usage: python conformance/run.py PYTHON27 AUTOBAHN_DIR
Starts `python wsgi.py` with CHAT_ECHO_ENDPOINT=1 on a free port, runs wstest
(Python 2.7, packages installed in AUTOBAHN_DIR) on cases 1-7, 9 and 10, prints
one line per outcome, and exits 1 on any FAILED or UNCLEAN case.
"""

import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from liveserver import Server  # noqa: E402 (the path above makes it importable)

CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"]
# Cases 9.x echo messages of up to 16 MiB, some in 64-byte fragments: the same
# transport, with limits raised above the chat defaults so the echo can pass.
LIMITS = {"CHAT_MAX_FRAME_BYTES": str(20 << 20), "CHAT_MAX_QUEUE_BYTES": str(40 << 20)}
WSTEST = "import site, sys; site.addsitedir(sys.argv.pop(1)); from autobahntestsuite.wstest import run; run()"
BAD = ("FAILED", "UNCLEAN")


def run_suite(python27, autobahn_dir, workdir):
    """Run wstest against a fresh server; return Autobahn's per-case results."""
    server = Server(workdir / "data", {"CHAT_ECHO_ENDPOINT": "1", "CHAT_AUTH": "open", **LIMITS}).start()
    try:
        spec = {"outdir": str(workdir / "report"), "cases": CASES, "exclude-cases": [],
                "exclude-agent-cases": {}, "servers": [{"agent": "chat", "url": f"{server.ws_url}/echo"}]}
        (workdir / "spec.json").write_text(json.dumps(spec))
        with open(workdir / "wstest.log", "wb") as log:
            done = subprocess.run([python27, "-c", WSTEST, str(Path(autobahn_dir).resolve()),
                                   "-m", "fuzzingclient", "-s", "spec.json"],
                                  cwd=workdir, stdout=log, stderr=subprocess.STDOUT, timeout=1800, check=False)
        if done.returncode:
            sys.exit(f"wstest failed ({done.returncode}):\n{(workdir / 'wstest.log').read_text()[-3000:]}")
    finally:
        server.stop()
    return json.loads((workdir / "report" / "index.json").read_text())["chat"]


def main():
    """Run the suite, print the tally and every case that is not plain OK."""
    python27, autobahn_dir = sys.argv[1:3]
    with tempfile.TemporaryDirectory(prefix="autobahn-") as tmp:
        results = run_suite(python27, autobahn_dir, Path(tmp))
    tally = collections.Counter()
    for case, result in sorted(results.items(), key=lambda item: [int(p) for p in item[0].split(".")]):
        outcome = (result["behavior"], result["behaviorClose"])
        tally[outcome[0]] += 1
        tally["UNCLEAN"] += "UNCLEAN" in outcome
        if outcome != ("OK", "OK"):
            print(f"{case:8} {outcome[0]:13} close {outcome[1]}")
    summary = ", ".join(f"{tally[name]} {name}" for name in ("OK", "NON-STRICT", "INFORMATIONAL", *BAD))
    print(f"Autobahn|Testsuite, {len(results)} cases: {summary}")
    return 1 if any(tally[name] for name in BAD) else 0

if __name__ == "__main__":
    sys.exit(main())
