"""Process-wide set-up shared by `python wsgi.py` and gunicorn."""

import ctypes
import gc
import logging
import os
import resource

log = logging.getLogger(__name__)


M_ARENA_MAX = -8  # glibc's malloc.h


def cap_malloc_arenas():
    """Give every thread glibc's one malloc arena, unless MALLOC_ARENA_MAX says otherwise.

    Call before any thread starts: an arena, once made, stays. glibc gives a new thread an
    arena of its own, up to eight per core, and keeps what is freed in an arena for that
    arena's reuse. SQLite's work runs on gevent's pool threads, so its page caches were
    spread over several arenas, each keeping the pages it had freed, and the process grew
    (bench/NOTES.md, "the soak's RSS, taken apart"). The threads share one lock instead;
    Python's small objects never reach malloc (its own allocator takes them). Returns
    whether the cap was set: not on another C library, nor when the environment has set one.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        os.confstr("CS_GNU_LIBC_VERSION")  # glibc's name: an error elsewhere
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):
        return False
    return mallopt(M_ARENA_MAX, 1) == 1


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
