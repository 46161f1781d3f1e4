"""No secret is committed: detect-secrets finds nothing in the repository's tracked files.

A test value that looks like a secret says so on its line with
`# pragma: allowlist secret`.
"""

import json
import subprocess
from pathlib import Path

from tests.support import PROJECT_ROOT, PYTHON


def test_detect_secrets_finds_nothing_in_the_tracked_files():
    scanner = str(Path(PYTHON).parent / "detect-secrets")
    done = subprocess.run([scanner, "scan"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True)
    results = json.loads(done.stdout)["results"]

    found = [f"{path}:{item['line_number']} {item['type']}" for path, items in results.items() for item in items]
    assert found == []


def test_the_scan_would_see_a_committed_secret(tmp_path):
    repository = tmp_path / "repo"
    repository.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repository, check=True)
    key = "AKIA" + "IOSFODNN7EXAMPLE"  # assembled here, so that this file holds no key itself
    (repository / "settings.py").write_text(f'AWS_KEY = "{key}"\n')
    subprocess.run(["git", "add", "settings.py"], cwd=repository, check=True)
    scanner = str(Path(PYTHON).parent / "detect-secrets")
    done = subprocess.run([scanner, "scan"], cwd=repository, capture_output=True, text=True, timeout=120, check=True)

    assert "settings.py" in json.loads(done.stdout)["results"]
