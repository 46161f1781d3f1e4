"""`make test` provides the programs the suite needs, or stops before the suite naming what is missing.

Each test gives the script a PATH of its own: a directory with stand-ins for the
programs that are "installed" and, where the case needs one, a fake apt-get that
records how it was called and "installs" by creating the programs it was asked for.
Nothing on the machine is installed or removed.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.prerequisites import PROGRAMS
from tests.support import PROJECT_ROOT, free_port

FAKE_APT_GET = f"""#!{sys.executable}
import json, os, sys
from pathlib import Path
here = Path(__file__).parent
with open(here / "apt-get.calls", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_APT_FAILS") and "install" in sys.argv:
    print("E: Unable to locate package wrk", file=sys.stderr)
    sys.exit(100)
if "install" in sys.argv:
    provides = json.loads((here / "provides.json").read_text())
    for package in sys.argv[sys.argv.index("install") + 1:]:
        for program in provides.get(package, []):
            (here / program).write_text("#!/bin/sh\\n")
            (here / program).chmod(0o755)
"""
FAKE_SUDO = f"""#!{sys.executable}
import os, sys
args = [arg for arg in sys.argv[1:] if arg != "-n"]
os.execv(args[0], args) if args[0] != "true" else sys.exit(0)
"""


def make_bin(tmp_path: Path, absent: set[str], apt_get: bool = True) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in set(PROGRAMS) - absent:
        (bin_dir / program).write_text("#!/bin/sh\n")
        (bin_dir / program).chmod(0o755)
    provides: dict[str, list[str]] = {}
    for program, package in PROGRAMS.items():
        provides.setdefault(package, []).append(program)
    (bin_dir / "provides.json").write_text(json.dumps(provides))
    for name, text in (("apt-get", FAKE_APT_GET), ("sudo", FAKE_SUDO)) if apt_get else ():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run(bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devtools.prerequisites", "--search-path", str(bin_dir)],
        cwd=PROJECT_ROOT,
        env={"PATH": str(bin_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def apt_calls(bin_dir: Path) -> list[list[str]]:
    log = bin_dir / "apt-get.calls"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_missing_programs_are_installed_after_an_apt_get_update(tmp_path):
    bin_dir = make_bin(tmp_path, absent={"nginx", "sshd"})

    done = run(bin_dir)

    assert done.returncode == 0, done.stderr
    calls = apt_calls(bin_dir)
    assert [call[call.index("-qq") + 1 :] for call in calls] == [
        ["update"],
        ["install", "-y", "--no-install-recommends", "nginx", "openssh-server"],
    ]
    assert "installed nginx openssh-server" in done.stdout


def test_nothing_is_installed_when_nothing_is_missing(tmp_path):
    bin_dir = make_bin(tmp_path, absent=set())

    done = run(bin_dir)

    assert done.returncode == 0, done.stderr
    assert apt_calls(bin_dir) == []


def test_without_apt_get_it_fails_in_one_line_naming_what_is_missing(tmp_path):
    bin_dir = make_bin(tmp_path, absent={"sshd", "wrk"}, apt_get=False)

    done = run(bin_dir)

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "sshd (Debian package openssh-server)" in lines[0]
    assert "wrk (Debian package wrk)" in lines[0]
    assert "no apt-get" in lines[0]


def test_a_failing_apt_get_is_reported_in_one_line_with_its_reason(tmp_path):
    bin_dir = make_bin(tmp_path, absent={"wrk"})

    done = run(bin_dir, FAKE_APT_FAILS="1")

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "wrk (Debian package wrk)" in lines[0]
    assert "Unable to locate package wrk" in lines[0]


@pytest.mark.parametrize(
    ("env", "named"),
    [({"DB_PORT": "free"}, "MariaDB on 127.0.0.1:"), ({"TEST_REDIS_BASE": "redis://127.0.0.1:free"}, "Redis at")],
)
def test_a_server_that_does_not_answer_is_named_in_one_line(tmp_path, env, named):
    bin_dir = make_bin(tmp_path, absent=set())
    port = str(free_port())

    done = run(bin_dir, **{key: value.replace("free", port) for key, value in env.items()})

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert named in lines[0]
    assert port in lines[0]


def test_make_test_runs_the_check_before_lint_and_the_suite():
    planned = subprocess.run(
        ["make", "-n", "test"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    steps = [line for line in planned if "devtools.prerequisites" in line or "pytest" in line or "ruff" in line]
    assert "devtools.prerequisites" in steps[0]
    assert any("pytest" in step for step in steps[1:])
