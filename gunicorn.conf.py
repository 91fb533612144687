"""gunicorn settings, taken from the CHAT_* environment (`-b` on the command line wins)."""

import sys

from chat.errors import SettingsError
from chat.settings import from_environ

try:
    _settings = from_environ()
except SettingsError as exc:
    sys.exit(f"chat: cannot start: {exc}")

bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "chat.worker.ChatWorker"
worker_connections = 20000
graceful_timeout = 10
timeout = 30
control_socket_disable = True  # gunicorn 27 would open one under ~/.gunicorn
accesslog = "-"
# gunicorn's default format logs the query string, and with it any ?token=.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
