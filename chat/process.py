"""Process-wide set-up shared by `python wsgi.py` and gunicorn."""

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
