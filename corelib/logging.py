"""Logging: one compact line format and where each logger writes.

Format: a one-letter level marker, the local time with its UTC offset, the
source path relative to the project, the line, the message. Local time is
settings.TIME_ZONE: Django sets the process's TZ from it when it loads the
settings, and gunicorn.conf.py and `make run` set the same TZ for Gunicorn and
Supervisor, so every program's lines read in one zone. Tracebacks keep
the project's own frames and drop the ones inside the virtualenv, which are
rarely what needs fixing and bury the frame that is.
"""

import logging
import os
import sys
import time
import traceback
from pathlib import Path

LEVEL_MARKERS = {
    logging.DEBUG: "D",
    logging.INFO: "I",
    logging.WARNING: "W",
    logging.ERROR: "E",
    logging.CRITICAL: "C",
}

_PACKAGE_DIRS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)
_VENV_PREFIX = sys.prefix + os.sep if sys.prefix != sys.base_prefix else None


class ProjectFormatter(logging.Formatter):
    """`[I 2026-11-23 12:00:00,123+0800 apps/boards/views.py:42] message`."""

    def __init__(self, base_dir: str | Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.base_dir = str(Path(base_dir or Path.cwd()).resolve()) + os.sep

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        local = time.localtime(record.created)
        return f"{time.strftime('%Y-%m-%d %H:%M:%S', local)},{int(record.msecs):03d}{time.strftime('%z', local)}"

    def relative_path(self, pathname: str) -> str:
        for marker in _PACKAGE_DIRS:
            if marker in pathname:
                return pathname.split(marker, 1)[1]
        if pathname.startswith(self.base_dir):
            return pathname[len(self.base_dir) :]
        return pathname

    def format(self, record: logging.LogRecord) -> str:
        marker = LEVEL_MARKERS.get(record.levelno, record.levelname[:1])
        head = f"[{marker} {self.formatTime(record)} {self.relative_path(record.pathname)}:{record.lineno}]"
        text = f"{head} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text

    def formatException(self, exc_info) -> str:  # noqa: N802 (logging's name)
        _, exc, tb = exc_info
        frames = [frame for frame in traceback.extract_tb(tb) if not self._is_venv_frame(frame.filename)]
        lines = ["Traceback (most recent call last, virtualenv frames hidden):"]
        for frame in frames:
            lines.append(f'  File "{self.relative_path(frame.filename)}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line}")
        lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc))
        return "\n".join(lines)

    @staticmethod
    def _is_venv_frame(filename: str) -> bool:
        if _VENV_PREFIX and filename.startswith(_VENV_PREFIX):
            return True
        return any(marker in filename for marker in _PACKAGE_DIRS)


def _file_handler(path: Path) -> dict:
    # Several processes (Gunicorn workers, ten RQ workers) write the same file:
    # a lock-coordinated rotating handler keeps rotation from losing lines.
    return {
        "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
        "filename": str(path),
        "maxBytes": 50 * 1024 * 1024,
        "backupCount": 10,
        "encoding": "utf-8",
        "formatter": "project",
        "use_gzip": False,
    }


def build_logging(log_dir: Path, level: str, console: bool, base_dir: Path) -> dict:
    """The LOGGING dict: app.log for the app, rq.log for RQ and the scheduler."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    app_handlers = ["app"] + (["console"] if console else [])
    rq_handlers = ["rq"] + (["console"] if console else [])
    handlers = {"app": _file_handler(log_dir / "app.log"), "rq": _file_handler(log_dir / "rq.log")}
    if console:
        handlers["console"] = {"class": "logging.StreamHandler", "formatter": "project"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"project": {"()": ProjectFormatter, "base_dir": str(base_dir)}},
        "handlers": handlers,
        "root": {"handlers": app_handlers, "level": level},
        "loggers": {
            # Each named logger writes once, to its own handlers, and stops there.
            "django": {"handlers": app_handlers, "level": level, "propagate": False},
            "django.request": {"handlers": app_handlers, "level": "WARNING", "propagate": False},
            "django.server": {"handlers": app_handlers, "level": "WARNING", "propagate": False},
            "rq": {"handlers": rq_handlers, "level": level, "propagate": False},
            "rq.worker": {"handlers": rq_handlers, "level": level, "propagate": False},
            "rq_scheduler": {"handlers": rq_handlers, "level": level, "propagate": False},
            "corelib.rq": {"handlers": rq_handlers, "level": level, "propagate": False},
            "jobs": {"handlers": rq_handlers, "level": level, "propagate": False},
        },
    }
