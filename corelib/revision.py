"""The code revision this process runs: the checkout's git commit.

Read once per process (a Gunicorn worker reads it at start, see
gunicorn.conf.py), so after a reload the new workers report the new revision
while an old worker still finishing its requests reports the old one.
"""

import functools
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def current_revision() -> str:
    """The full commit hash of the checkout, else $RELEASE, else "unknown"."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5, check=True
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("RELEASE") or "unknown"
