"""What an RQ worker or the scheduler leaves out of its start-up, to keep its memory small.

Ten RQ workers and the scheduler are eleven separate Django processes, so
every module one of them imports for nothing is paid eleven times. `manage.py`
calls lighten_worker_start() for those commands, before Django is imported:

- No system checks when the process starts (`--skip-checks`): the checks load
  the URLconf, and with it django-ninja, pydantic and every API module, which
  no job uses (6.5 MB per process, measured with bench/memory.py). The deploy
  runs `manage.py check` on the new revision before any process restarts
  (fabfile.py), and the web workers load the same code.
- No gevent: no greenlet runs in these processes, yet sentry_sdk imports
  gevent only to ask whether it monkey-patched threading (4.4 MB per process).
  Marking it absent makes that question answer "no", which is true here.

Standard library only: manage.py imports it before Django.
"""

import sys

SKIP_CHECKS = "--skip-checks"


def lighten_worker_start(argv: list[str]) -> list[str]:
    """Block gevent's import and return `argv` with the system checks skipped."""
    # None in sys.modules makes `import gevent` fail (the import system's own "known absent" mark).
    sys.modules.setdefault("gevent", None)  # type: ignore[arg-type]
    return argv if SKIP_CHECKS in argv else [*argv, SKIP_CHECKS]
