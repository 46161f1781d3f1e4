"""One deploy (or rollback) per environment at a time: a lock file on the environment's first host.

`set -C` makes the shell create the file with O_EXCL, so of two deploys racing
for it exactly one wins. It records who holds it, since when and what they
deploy; after `lock_timeout` seconds a deploy that died without releasing it
is taken over (and says so). `fab unlock:<env>` removes it deliberately.
"""

from __future__ import annotations

import getpass
import shlex
import socket
import time
import uuid

from invoke import Exit

from deploy.remote import Remote

LOCK = "shared/deploy.lock"


def describe(line: str) -> tuple[float, str]:
    """(since, description) from a lock line: `<epoch> <who> <what> <token>`."""
    parts = line.split()
    try:
        since = float(parts[0])
    except (IndexError, ValueError):
        return 0.0, line or "an unreadable lock"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(since))
    who = parts[1] if len(parts) > 1 else "?"
    what = parts[2] if len(parts) > 2 else "?"
    return since, f"{who} since {when} ({what})"


class DeployLock:
    def __init__(self, remote: Remote, what: str):
        self.remote = remote
        self.token = uuid.uuid4().hex
        who = f"{getpass.getuser()}@{socket.gethostname()}"
        self.line = f"{time.time():.0f} {who} {what.replace(' ', '_')} {self.token}"

    def _create(self) -> bool:
        command = f"mkdir -p shared && (set -C; echo {shlex.quote(self.line)} > {LOCK}) 2>/dev/null"
        return bool(self.remote.run(command + " && echo ok", "lock", check=False))

    def acquire(self) -> None:
        if self._create():
            self.remote.say("lock", f"taken: {describe(self.line)[1]}")
            return
        held = self.remote.run(f"cat {LOCK}", "lock", check=False)
        since, holder = describe(held)
        age = time.time() - since
        if age < self.remote.target.lock_timeout:
            raise Exit(
                f"{self.remote.label} another deploy holds the lock: {holder}, {age:.0f}s ago. "
                f"If it is dead: fab unlock:{self.remote.target.name}",
                code=3,
            )
        self.remote.say("lock", f"stale lock of {holder} ({age:.0f}s old): taking it over")
        self.remote.run(f"rm -f {LOCK}", "lock")
        if not self._create():
            raise Exit(f"{self.remote.label} another deploy took the lock first.", code=3)

    def release(self) -> None:
        """Remove the lock if it is still ours (an unlock and a new deploy may have replaced it)."""
        self.remote.run(f"grep -q {self.token} {LOCK} && rm -f {LOCK}", "unlock", check=False)


def break_lock(remote: Remote) -> str:
    """Remove the lock whoever holds it; returns what it said ("" when there was none)."""
    held = remote.run(f"cat {LOCK} 2>/dev/null", "unlock", check=False)
    remote.run(f"rm -f {LOCK}", "unlock")
    return describe(held)[1] if held else ""
