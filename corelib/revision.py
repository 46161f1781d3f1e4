"""The code revision this process runs: the release's REVISION file, or the checkout's git commit.

Read once per process (a Gunicorn worker reads it at start, see
gunicorn.conf.py), so after a reload the new workers report the new revision
while an old worker still finishing its requests reports the old one.
"""

import functools
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent  # not resolve(): a `current` symlink names the release


@functools.cache
def current_revision() -> str:
    """The full commit hash: REVISION (a deployed release has no .git), else git, else $RELEASE, else "unknown"."""
    try:
        return (ROOT / "REVISION").read_text().strip()
    except OSError:
        pass
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5, check=True
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("RELEASE") or "unknown"
