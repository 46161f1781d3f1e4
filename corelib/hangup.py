"""SIGHUP around the start and exit of a supervised worker process (RQ workers, the scheduler).

Every deploy runs `supervisorctl signal HUP all`, and a HUP can reach a worker
at any moment: while it is still importing Django, before it has a handler
(SIGHUP's default action kills it, and Supervisor logs "terminated by SIGHUP;
not expected"), or just after Supervisor started it. So:

- Supervisor starts these programs through `nohup` (SIGHUP ignored across the
  exec), and manage.py calls defer_hangup() before it imports anything of the
  project: from then on a HUP waits, blocked, instead of being lost or fatal.
  A HUP lost while it was ignored came before any project code was read, so
  the process loads the code the HUP announced anyway.
- Once the worker has its handler, accept_hangup() delivers a waiting HUP: a
  warm stop before the first job.
- Supervisor counts an exit within `startsecs` of the start as a failed start
  ("exited too quickly", then BACKOFF and FATAL after `startretries`), whatever
  the exit status. finish_exit() makes a worker that was told to stop that
  early wait until Supervisor would call the exit expected, then exits at once.

Standard library only: manage.py imports it before Django.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

STARTED = time.monotonic()
# `startsecs` of the rqworker and rqscheduler programs in supervisord_*.conf, plus a margin for
# the time between Supervisor's fork and this module's import.
START_PERIOD = 3.0 + 0.5
LONG_RUNNING_COMMANDS = frozenset({"rqworker", "run_scheduler", "rqworker_forkserver"})


_supervised = False  # set by defer_hangup(): this process is a long-running command of manage.py
# Told the exit status just before finish_exit() ends the process (a forked worker tells its relay).
_exit_reporters: list[Callable[[int], None]] = []


def report_exit_to(reporter: Callable[[int], None]) -> None:
    """Have finish_exit() pass the exit status to `reporter` before the process ends."""
    _exit_reporters.append(reporter)


def restart_clock() -> None:
    """The start period counts from now (a worker forked long after its parent started)."""
    global STARTED
    STARTED = time.monotonic()


def defer_hangup() -> None:
    """Hold SIGHUP pending until accept_hangup()."""
    global _supervised
    _supervised = True
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    # Blocked, it stays pending even with the default action; it must not stay ignored (nohup).
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def accept_hangup() -> None:
    """Deliver a SIGHUP held since defer_hangup() (call once the handler is installed)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})


def finish_exit() -> None:
    """Called once the process has stopped for good (deregistered, logged, Sentry flushed): exit 0.

    Waits out the start period first, so Supervisor calls the exit expected.
    Then it leaves without Python's own shutdown: tearing down the modules of a
    whole Django process costs about 0.3 s of CPU, which at nice 10 on a busy
    machine kept an idle worker alive 10-30 s after its HUP (measured; 0.02 s
    of CPU and well under a second this way). Python's shutdown also puts
    SIGHUP's default action back, so the next deploy's HUP turned a clean exit
    into "terminated by SIGHUP". In a process that manage.py did not start as a
    worker (a test running a worker in-process) this only returns.
    """
    if not _supervised:
        return
    remaining = STARTED + START_PERIOD - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    import logging  # here: the RQ relays read START_PERIOD, and logging would add 1.7 MB to each

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    for reporter in _exit_reporters:
        reporter(0)
    os._exit(0)
