"""Wait on a host until every Supervisor program runs, the workers from the new release.

Run by `fab deploy` on the host after a switch: each RQ worker and the
scheduler finishes its job, exits on HUP and is started again from `current`.
A process counts once it is RUNNING and its working directory is the release
(`current` resolved when Supervisor started it); Gunicorn is checked by
wait_ready.py through /api/version instead. A worker busy with a job restarts
when the job ends, so the timeout (workers_timeout) outlasts the longest job.
Exit 0 when all are, 1 otherwise or as soon as one is FATAL.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

WEB_PROGRAM = "gunicorn"


def program_states(conf: str) -> dict[str, tuple[str, int]]:
    """name -> (state, pid) from `supervisorctl status`."""
    supervisorctl = Path(sys.executable).parent / "supervisorctl"
    result = subprocess.run(
        [str(supervisorctl), "-c", conf, "status"], capture_output=True, text=True, timeout=30, check=False
    )
    states = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        pid = int(parts[3].rstrip(",")) if len(parts) > 3 and parts[2] == "pid" else 0
        states[parts[0]] = (parts[1], pid)
    return states


def stale(states: dict[str, tuple[str, int]], release: str) -> list[str]:
    """The programs not yet RUNNING from `release`."""
    behind = []
    for name, (state, pid) in sorted(states.items()):
        if state != "RUNNING":
            behind.append(f"{name} {state}")
        elif name.rpartition(":")[2] != WEB_PROGRAM:
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                cwd = "?"
            if cwd != release:
                behind.append(f"{name} still runs from {cwd}")
    return behind


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf", required=True)
    parser.add_argument("--release", required=True)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    release = os.path.realpath(args.release)
    deadline = time.monotonic() + args.timeout
    behind = ["supervisorctl status not read yet"]
    while time.monotonic() < deadline:
        states = program_states(args.conf)
        behind = stale(states, release) if states else ["Supervisor lists no program"]
        fatal = [name for name, (state, _) in states.items() if state == "FATAL"]
        if fatal:  # Supervisor gave up starting it: waiting longer changes nothing
            print(f"programs FATAL (they exit as they start): {', '.join(sorted(fatal))}", file=sys.stderr)
            return 1
        if not behind:
            print(f"programs: {len(states)} RUNNING from {release}")
            return 0
        time.sleep(0.5)
    print(f"programs not ready after {args.timeout:g}s: {'; '.join(behind[:5])}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
