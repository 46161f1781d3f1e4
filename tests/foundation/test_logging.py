"""The log line format, and which file each logger writes to."""

import logging
import re
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from corelib.logging import ProjectFormatter
from tests.support import PROJECT_ROOT

HERE = str(Path(__file__).resolve())


def record(level: int, message: str = "hello %s", args=("world",), pathname: str = HERE, exc_info=None):
    return logging.LogRecord("some.logger", level, pathname, 42, message, args, exc_info)


@pytest.mark.parametrize(
    "level, marker",
    [(logging.DEBUG, "D"), (logging.INFO, "I"), (logging.WARNING, "W"), (logging.ERROR, "E"), (logging.CRITICAL, "C")],
)
def test_each_level_has_its_marker_and_a_project_relative_path(level, marker):
    line = ProjectFormatter(base_dir=PROJECT_ROOT).format(record(level))
    assert line.startswith(f"[{marker} ")
    assert " tests/foundation/test_logging.py:42] hello world" in line
    assert str(PROJECT_ROOT) not in line


def test_a_library_path_is_shown_from_inside_site_packages():
    library_path = str(Path(sys.prefix) / "lib/python3.11/site-packages/rq/worker.py")
    line = ProjectFormatter(base_dir=PROJECT_ROOT).format(record(logging.INFO, pathname=library_path))
    assert " rq/worker.py:42] " in line


def raise_from_a_library():
    from django.core import signing

    signing.loads("not-a-signed-value")


def test_tracebacks_keep_project_frames_and_drop_virtualenv_frames():
    from django.core.signing import BadSignature

    try:
        raise_from_a_library()
    except BadSignature:
        exc_info = sys.exc_info()
    text = ProjectFormatter(base_dir=PROJECT_ROOT).format(record(logging.ERROR, "failed", (), exc_info=exc_info))
    assert 'File "tests/foundation/test_logging.py"' in text
    assert "in raise_from_a_library" in text
    assert "django/core/signing.py" not in text and "site-packages" not in text
    assert text.splitlines()[-1].startswith("django.core.signing.BadSignature")


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@pytest.mark.parametrize("logger_name", ["rq.worker", "rq_scheduler"])
def test_an_rq_line_goes_to_the_rq_file_only(logger_name):
    marker = f"rq-only line from {logger_name}"
    logging.getLogger(logger_name).warning(marker)
    for handler in logging.getLogger(logger_name).handlers:
        handler.flush()
    log_dir = Path(settings.LOG_DIR)
    assert read(log_dir / "rq.log").count(marker) == 1
    assert marker not in read(log_dir / "app.log")


@pytest.mark.parametrize("logger_name", ["django.request", "django", "apps.boards"])
def test_an_app_line_goes_to_the_app_file_once(logger_name):
    marker = f"app line from the {logger_name} logger"
    logging.getLogger(logger_name).error(marker)
    log_dir = Path(settings.LOG_DIR)
    assert read(log_dir / "app.log").count(marker) == 1
    assert marker not in read(log_dir / "rq.log")


def test_the_time_carries_its_utc_offset():
    line = ProjectFormatter(base_dir=PROJECT_ROOT).format(record(logging.INFO))
    offset = time.strftime("%z", time.localtime())
    assert re.match(rf"\[I \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}}{re.escape(offset)} ", line), line
