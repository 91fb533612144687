"""The server's logs: one line per record on stderr, as text or (CHAT_LOG_FORMAT=json) one JSON object.

The formatter gives every line its one timestamp; an access line (see the `chat.access`
logger in transport/handler.py) carries its fields as attributes of the record, so the
JSON form has them as keys. gunicorn's own loggers go the same way (gunicorn.conf.py).
Writing to stderr does not wait on anything but the pipe, which the gevent loop can bear.
"""

import datetime
import json
import logging
import logging.config

TEXT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
ACCESS_FIELDS = ("client", "method", "path", "protocol", "status", "bytes", "duration", "close_code")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, pid, message, the access fields."""

    def format(self, record):
        """The record as one line of JSON."""
        line = {"time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
                .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname, "logger": record.name, "pid": record.process,
                "message": record.getMessage()}
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def dict_config(log_format):
    """The logging configuration (for logging.config.dictConfig) of `log_format`: text or json.

    The root logger and gunicorn's take one handler on stderr; gunicorn's do not also
    pass their records up (they would print twice).
    """
    formatter = {"()": JsonFormatter} if log_format == "json" else {"format": TEXT}
    handler = {"class": "logging.StreamHandler", "formatter": "chat", "stream": "ext://sys.stderr"}
    gunicorn = {"level": "INFO", "handlers": ["stderr"], "propagate": False}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"chat": formatter}, "handlers": {"stderr": handler},
            "root": {"level": "INFO", "handlers": ["stderr"]},
            "loggers": {"gunicorn.error": gunicorn, "gunicorn.access": gunicorn}}


def configure(log_format):
    """Set up the process's logging for `log_format` (CHAT_LOG_FORMAT)."""
    logging.config.dictConfig(dict_config(log_format))
