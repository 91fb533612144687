"""gunicorn settings, taken from the CHAT_* environment (`-b` on the command line wins)."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

# Before anything imports prometheus_client: workers keep their metrics in files of one
# directory, which /metrics sums. An operator may name it; else one is made here, and
# only a directory made here is removed at exit. A reload (HUP) reads this file again
# with the variable already set: the marker says whose the directory is.
_MADE_HERE = "_CHAT_METRICS_DIR_MADE_BY_CONFIG"
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[_MADE_HERE] = tempfile.mkdtemp(prefix="chat-metrics-")

# A reload (HUP) reads this file again in the same master, whose workers fork from it:
# forget the app's modules imported at the last reading, so that the new workers, and this
# file's settings, run the code on disk now and not the code of the first start.
for _module in [name for name in sys.modules if name == "chat" or name.startswith("chat.")]:
    del sys.modules[_module]

# pylint: disable=wrong-import-position
from gunicorn.errors import HaltServer

from chat.errors import SettingsError, refuse_start
from chat.logs import dict_config
from chat.process_tuning import raise_open_files_limit, tune_garbage_collector
from chat.settings import from_environ

try:
    _settings = from_environ()
except SettingsError as exc:
    refuse_start(exc)

raise_open_files_limit()  # workers inherit it
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "chat.transport.worker.ChatWorker"
worker_connections = 20000
graceful_timeout = 10
timeout = 30
control_socket_disable = True  # gunicorn 27 would open one under ~/.gunicorn
# gunicorn's lines and the app's alike: one handler on stderr, text or JSON (chat/logs.py).
logconfig_dict = dict_config(_settings.log_format)
# No gunicorn access log: the handler writes the access lines itself (chat.access), a
# WebSocket's when it closes, and never with the query string (it may hold ?token=).
accesslog = None


def _upgrade_store():
    """Upgrade the store (chat/storage/upgrade.py), which says on stderr what is wrong with
    it if it cannot; True when it is current. In a process of its own: here the store's
    modules would import ssl into the master before the workers' gevent patches it."""
    return subprocess.run([sys.executable, "-m", "chat.storage.upgrade"], check=False).returncode == 0


def on_starting(server):
    """Before the first worker: upgrade the store, or stop."""
    if not _upgrade_store():
        on_exit(server)  # gunicorn will not: it has not started
        sys.exit(1)


def on_reload(server):  # pylint: disable=unused-argument
    """A rolling restart (HUP), before its first new worker: the new code's schema steps, once.
    A store the new code cannot use stops the server, as its new workers would on booting."""
    if not _upgrade_store():
        raise HaltServer("the store could not be upgraded (see above)", 1)


def post_worker_init(worker):  # pylint: disable=unused-argument
    """The worker has built its app: see tune_garbage_collector."""
    tune_garbage_collector()


def child_exit(server, worker):  # pylint: disable=unused-argument
    """A worker ended (or was killed): its connection gauges stop counting.

    This is prometheus_client's multiprocess.mark_process_dead, done by hand: importing
    it would import ssl into the master before the workers' gevent patches it.
    """
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], f"gauge_live*_{worker.pid}.db")):
        os.remove(path)


def on_exit(server):  # pylint: disable=unused-argument
    """The master stops: remove the metrics directory if it was made here, never the operator's."""
    made = os.environ.get(_MADE_HERE)
    if made and made == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(made, ignore_errors=True)
