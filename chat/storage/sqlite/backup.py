"""A consistent copy of the SQLite database while the server writes to it."""

import os
import sqlite3
from pathlib import Path


def copy_database(source, target):
    """Copy the database `source` into the new file `target`, mode 0600, with SQLite's
    online backup; FileExistsError when `target` is there, and no file left on a failure.

    All pages go in one step, under one read transaction: the copy is the database as of
    one commit, and writers go on meanwhile (WAL lets them). The mailbox file is not
    copied: it is rebuilt from the messages when the store opens.
    """
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        # Read-only: a missing or mistyped database fails rather than being created empty.
        src = sqlite3.connect(Path(source).resolve().as_uri() + "?mode=ro", uri=True, timeout=10)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except BaseException:
        os.unlink(target)
        raise
