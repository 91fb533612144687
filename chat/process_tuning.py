"""Process-wide set-up shared by `python wsgi.py` and gunicorn."""

import gc
import logging
import resource

log = logging.getLogger(__name__)


def raise_open_files_limit():
    """Lift the soft open-files limit to the hard one: each connection is a file.

    Returns the new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("open-files limit stays at %s: %s", soft, exc)
    return soft


def tune_garbage_collector():
    """Call once the app is built: collect less often, and never rescan what start-up made.

    Python's default runs a collection every 700 new objects. A crowd connecting at once
    allocates in bursts, and the older generations it walks grow with every connection
    held, until collecting is a real share of a handshake's cost with thousands connected. Garbage cycles
    here are rare and small (the reference counts free the rest), so waiting is cheap.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
