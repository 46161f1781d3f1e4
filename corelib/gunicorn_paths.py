"""Where one Gunicorn instance keeps its run-time files, named the same by its config and by its readers.

Standard library only: gunicorn.conf.py imports this in the master, before the
workers fork and gevent patches them.
"""

import re
from pathlib import Path


def instance_name(settings_module: str) -> str:
    """ "project.settings_test" -> "gunicorn-test"."""
    return "gunicorn-" + settings_module.rpartition("settings_")[2].replace(".", "-")


def metrics_dir(root: Path, instance: str, first_bind: str) -> Path:
    """One directory per listening address: two masters never share one, so neither wipes the other's."""
    return Path(root) / "var" / "metrics" / f"{instance}-{re.sub(r'[^A-Za-z0-9]+', '_', first_bind).strip('_')}"
