"""Gunicorn's master, with reloads that never leave the listening socket unserved.

Stock Gunicorn on HUP forks the new workers and stops the old ones at once:
until the new ones have imported Django nothing accepts, and with five
workers booting together on two cores that was seconds. If the new code
cannot boot, the stock master halts (a worker exiting with WORKER_BOOT_ERROR)
and takes the old workers with it.

Here a reload is a rollout:

- HUP: reload gunicorn.conf.py, fork a new generation, and wait until every
  new worker is *ready*: the app is imported, Django set up and the URLconf
  loaded (corelib/wsgi.py), post_worker_init in gunicorn.conf.py has returned and the worker
  is entering its accept loop. Each worker says so through a pipe the master
  reads. Only then are the old workers told to finish their requests and exit
  (SIGTERM, graceful_timeout). A generation in which a worker dies before it is
  ready, or is not ready within `timeout` seconds, is killed, the old
  generation keeps serving, the error is logged (the worker's traceback is in
  the same error log just above), and a later HUP tries again.
- USR2: re-exec the master *in place*: same PID (Supervisor keeps tracking it),
  listening sockets inherited, through argv[0] as Supervisor started it (a
  swapped `current` symlink and a new virtualenv are picked up). The new master
  knows its predecessor's workers (still its children) and retires them only
  once its own generation is ready. The new code is checked first with
  `--check-config` in a subprocess; if that fails nothing is replaced.

With gevent workers the app is loaded once per generation, by an app template
the master forks first, and the generation's workers are forked from it and
share its pages (corelib.gunicorn_template); a HUP's new generation gets a new
template, which imports the code then on disk. GUNICORN_SHARED_APP=0 makes
each worker load the app itself, as stock Gunicorn does.

gunicorn.conf.py installs this class with use_rolling_arbiter(): the operator
and Supervisor still run plain `gunicorn --config gunicorn.conf.py`. This
module and the worker class are imported by the master, so a change to them
takes effect on USR2, not on HUP. Never imports Django.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import sys
import time

from gunicorn import sock, util
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer
from gunicorn.pidfile import Pidfile
from gunicorn.workers.base import Worker as _GunicornWorker

from corelib import gunicorn_template
from corelib.gunicorn_template import Template, TemplateError

# Set in the master before it forks; a worker inherits the write end (fork keeps every descriptor).
_ready_fd: int | None = None
_PID = struct.Struct("i")

# Passed from a master to the one it re-execs into (USR2).
LISTENERS_ENV = "CORELIB_GUNICORN_LISTENER_FDS"
RETIRING_ENV = "CORELIB_GUNICORN_RETIRING_PIDS"
# "0" forks every worker from the master and lets each load the app, as stock Gunicorn does
# (corelib.gunicorn_template: on by default, for gevent workers).
SHARED_APP_ENV = "GUNICORN_SHARED_APP"
# A generation that fails is not retried by the master on its own sooner than this.
RETRY_AFTER = 10.0
# USR2's check imports the whole app; on a machine with a load average of 50 that took over a minute.
CHECK_TIMEOUT = 180
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def report_ready(pid: int) -> None:
    """In a worker: tell the master this worker is ready to serve."""
    if _ready_fd is not None:
        os.write(_ready_fd, _PID.pack(pid))  # 4 bytes < PIPE_BUF: atomic, never interleaved


class ReportsReady:
    """Mixed into the configured worker class: a worker reports as it enters its accept loop.

    Worker.init_process() loads the app, calls post_worker_init and then run():
    by then the app is imported and warmed, and accepting starts right after.
    """

    pid: int  # set by the worker class this is mixed into

    def run(self) -> None:
        report_ready(self.pid)
        super().run()  # type: ignore[misc]  # the worker class it is mixed into has run()


class RollingArbiter(Arbiter):
    # Set by gunicorn's Arbiter; declared for the type checker.
    worker_class: type
    pidfile: Pidfile | None
    reexec_pid: int

    def __init__(self, app) -> None:
        global _ready_fd
        self._ready_r, _ready_fd = os.pipe()
        os.set_blocking(self._ready_r, False)
        self.ready: set[int] = set()
        self.spawned_at: dict[int, float] = {}
        # Old workers told to finish (pid -> Worker, or None for a predecessor's worker after USR2).
        self.retiring: dict[int, _GunicornWorker | None] = {}
        self.generation: set[int] | None = None  # the rollout in progress
        self.generation_failures: list[str] = []
        self.discarded: set[int] = set()  # workers of a failed generation, killed on purpose
        self.deferred_signals: list[int] = []
        self.no_spawn_before = 0.0
        self.stopping = False
        self.shares_app = False
        self.template: Template | None = None  # forks the current generation's workers
        self.retired_templates: set[int] = set()
        self.early_ready: set[int] = set()  # ready before the master knew the pid (a worker from a template)
        super().__init__(app)

    def setup(self, app) -> None:
        super().setup(app)
        if not issubclass(self.worker_class, ReportsReady):
            self.worker_class = type(self.worker_class.__name__, (ReportsReady, self.worker_class), {})
        self.shares_app = (
            os.environ.get(SHARED_APP_ENV, "1") != "0"
            and not self.cfg.preload_app
            and gunicorn_template.supports(self.worker_class)
        )

    # --- start, including after an in-place re-exec ------------------------------
    def start(self) -> None:
        inherited = os.environ.pop(LISTENERS_ENV, "")
        if inherited:
            self.LISTENERS = sock.create_sockets(self.cfg, self.log, [int(fd) for fd in inherited.split(",")])
        retiring = os.environ.pop(RETIRING_ENV, "")
        self.retiring = {int(pid): None for pid in retiring.split(",") if pid}
        if self.shares_app and not gunicorn_template.become_subreaper():
            self.shares_app = False
            self.log.warning("cannot adopt workers forked by an app template (no child subreaper): each loads the app")
        super().start()
        if self.pidfile is not None:
            self.pidfile.pid = self.pid  # same PID after a re-exec: Pidfile.create kept the file but not the pid
        if inherited:
            self.log.info(
                "re-exec'd in place; %d workers of the previous master serve until mine are ready", len(self.retiring)
            )

    def init_signals(self) -> None:
        super().init_signals()
        # A re-exec blocks these across exec so none can kill the new master while it starts:
        # now that the handlers exist, whatever arrived meanwhile is delivered and queued.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)

    # --- workers -----------------------------------------------------------------
    def spawn_worker(self) -> int:
        """A new worker's pid; 0 if its generation's app template failed (logged, handled as a boot failure)."""
        pid = self._spawn_from_template() if self.shares_app else super().spawn_worker()  # returns only in the master
        if pid:
            self.spawned_at[pid] = time.monotonic()
        return pid

    def spawn_workers(self) -> None:
        if not self.shares_app:
            super().spawn_workers()
            return
        for _ in range(self.num_workers - len(self.WORKERS)):
            if not self.spawn_worker():
                return

    def _spawn_from_template(self) -> int:
        """Stock spawn_worker's bookkeeping; the fork itself is the template's (corelib.gunicorn_template)."""
        if self.template is None:
            self.template = Template.start(self)  # before this worker's heartbeat file exists: it keeps none open
        self.worker_age += 1
        worker = self.worker_class(
            self.worker_age, self.pid, self.LISTENERS, self.app, self.timeout / 2.0, self.cfg, self.log
        )
        self.cfg.pre_fork(self, worker)
        try:
            pid = self.template.fork_worker(self.worker_age, worker.tmp.fileno(), self.boot_limit)
        except TemplateError as failure:
            worker.tmp.close()
            self.template = None
            self.boot_failed(failure.pid, failure.status, str(failure), in_generation=self.generation is not None)
            return 0
        worker.pid = pid
        self.WORKERS[pid] = worker
        self._stats["workers_spawned"] += 1
        if pid in self.early_ready:
            self.early_ready.discard(pid)
            self.ready.add(pid)
        return pid

    def _retire_template(self, template: Template | None) -> None:
        """Its workers need nothing more from it."""
        if template is not None:
            template.kill(signal.SIGTERM)
            template.close()
            self.retired_templates.add(template.pid)

    def drain_ready(self) -> None:
        while True:
            try:
                data = os.read(self._ready_r, 4096)
            except BlockingIOError:
                return
            if not data:
                return
            for (pid,) in _PID.iter_unpack(data):
                if pid in self.WORKERS:
                    self.ready.add(pid)
                    booted = time.monotonic() - self.spawned_at.get(pid, time.monotonic())
                    self.log.info("worker %s ready %.2fs after it was forked", pid, booted)
                elif self.shares_app:
                    self.early_ready.add(pid)

    def manage_workers(self) -> None:
        self.drain_ready()
        if time.monotonic() < self.no_spawn_before:
            return
        if self.retiring and not self.WORKERS:
            self.roll_out()  # the first generation after a re-exec
            return
        super().manage_workers()

    def kill_workers(self, sig) -> None:
        super().kill_workers(sig)
        for pid in list(self.retiring):
            self._signal(pid, sig)

    def _signal(self, pid: int, sig) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            self.retiring.pop(pid, None)

    def reap_workers(self) -> None:
        """Stock reaping, except that a worker dying before it is ready halts the master
        only when no ready worker is left to serve."""
        self.drain_ready()
        try:
            while True:
                wpid, status = os.waitpid(-1, os.WNOHANG)
                if not wpid:
                    return
                if wpid == self.reexec_pid:
                    self.reexec_pid = 0
                    continue
                if self._reaped_template(wpid, status):
                    continue
                was_ready = wpid in self.ready
                self.ready.discard(wpid)
                self.spawned_at.pop(wpid, None)
                if wpid in self.retiring:
                    retired = self.retiring.pop(wpid)
                    self.log.info("old worker %s exited (%s)", wpid, describe_exit(status))
                    if retired is not None:
                        retired.tmp.close()
                        self.cfg.child_exit(self, retired)
                    continue
                worker = self.WORKERS.pop(wpid, None)
                if worker is None:
                    continue  # not ours (gunicorn reaps any child it gets)
                worker.tmp.close()
                self.cfg.child_exit(self, worker)
                if wpid in self.discarded:
                    self.discarded.discard(wpid)
                elif was_ready:
                    expected = status == 0 or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
                    (self.log.info if expected else self.log.error)(
                        "worker %s exited (%s)", wpid, describe_exit(status)
                    )
                else:
                    self.boot_failed(wpid, status)
        except ChildProcessError:
            return

    def _reaped_template(self, pid: int, status: int) -> bool:
        if pid in self.retired_templates:
            self.retired_templates.discard(pid)
            self.log.info("app template %s of a previous generation exited (%s)", pid, describe_exit(status))
            return True
        if self.template is None or pid != self.template.pid:
            return False
        self.template.close()
        self.template = None
        if not self.stopping:
            self.log.error(
                "app template %s exited (%s); the next worker to start forks a new one", pid, describe_exit(status)
            )
        return True

    def stop(self, graceful: bool = True) -> None:
        self.stopping = True  # workers killed while booting are not boot failures then
        self._retire_template(self.template)
        self.template = None
        super().stop(graceful)

    def boot_failed(self, pid: int, status: int, reason: str = "", in_generation: bool | None = None) -> None:
        if self.stopping:
            return
        reason = reason or f"worker {pid} died before it was ready ({describe_exit(status)}); its traceback is above"
        if in_generation is None:
            in_generation = self.generation is not None and pid in self.generation
        if in_generation:
            self.generation_failures.append(reason)
            return
        serving = len(self.ready & set(self.WORKERS)) + len(self.retiring)
        if not serving:
            # Nothing serves (the first start): stop like stock Gunicorn, so Supervisor shows the failure.
            raise HaltServer(reason, self.WORKER_BOOT_ERROR)
        self.log.error("%s; %d workers keep serving; next try in %.0fs", reason, serving, RETRY_AFTER)
        self.no_spawn_before = time.monotonic() + RETRY_AFTER

    # --- HUP: new generation first -----------------------------------------------
    @property
    def boot_limit(self) -> int:
        """Seconds a new generation gets to be ready: the worker timeout, or 120 when that is off."""
        return self.cfg.timeout or 120

    def reload(self) -> None:
        self._stats["reloads"] += 1
        old_address, old_cfg = self.cfg.address, self.app.cfg
        for key in self.cfg.env:  # as stock: forget what the old config put in the environment
            if key in self.cfg.env_orig:
                os.environ[key] = self.cfg.env_orig[key]
            else:
                os.environ.pop(key, None)
        try:
            self.app.reload()  # exits on a broken gunicorn.conf.py, after printing why
        except SystemExit:
            self.app.cfg = old_cfg
            self.log.error("RELOAD FAILED: gunicorn.conf.py could not be loaded (see above); the workers keep serving")
            return
        self.setup(self.app)
        self.log.reopen_files()
        if old_address != self.cfg.address:
            for listener in self.LISTENERS:
                listener.close()
            self.LISTENERS = sock.create_sockets(self.cfg, self.log)
            self.log.info("Listening at: %s", ",".join(str(listener) for listener in self.LISTENERS))
        self.cfg.on_reload(self)
        if self.pidfile is not None:
            self.pidfile.unlink()
        if self.cfg.pidfile is not None:
            self.pidfile = Pidfile(self.cfg.pidfile)
            self.pidfile.create(self.pid)
        util._setproctitle(f"master [{self.proc_name}]")
        self.roll_out()

    def roll_out(self) -> bool:
        """Start a new generation; retire the old one once every new worker is ready."""
        old = dict(self.WORKERS)
        old_template, self.template = self.template, None  # the new generation's workers load the code on disk now
        started = time.monotonic()
        self.generation_failures = []
        self.generation = set()
        for _ in range(self.num_workers):
            pid = self.spawn_worker()
            if not pid:
                break
            self.generation.add(pid)
        try:
            outcome = self._wait_for_generation(started + self.boot_limit)
        finally:
            new, self.generation = self.generation, None
        if outcome == "ready":
            for pid, worker in old.items():
                if self.WORKERS.pop(pid, None) is not None:
                    self.retiring[pid] = worker
            for pid in list(self.retiring):
                self._signal(pid, signal.SIGTERM)
            self._retire_template(old_template)
            self.log.info(
                "reload: %d new workers ready in %.1fs; %d old workers finish their requests and exit",
                len(new),
                time.monotonic() - started,
                len(self.retiring),
            )
            return True
        for pid in new:
            if pid in self.WORKERS:
                self.discarded.add(pid)
                self.kill_worker(pid, signal.SIGKILL)
        self._retire_template(self.template)
        self.template = old_template  # replacements for the workers that keep serving load what they run
        self.no_spawn_before = time.monotonic() + RETRY_AFTER
        if outcome != "stopping":
            self.log.error(
                "RELOAD FAILED: %s. The %d running workers keep serving the previous code; fix it and HUP again.",
                outcome,
                len(old) + len(self.retiring),
            )
        return False

    def _wait_for_generation(self, deadline: float) -> str:
        try:
            while True:
                self.reap_workers()
                if self.generation_failures:
                    return self.generation_failures[0]
                if self.generation is not None and self.generation <= self.ready:
                    return "ready"
                if self._stop_requested():
                    return "stopping"
                if time.monotonic() > deadline:
                    return f"new workers not ready within {self.boot_limit}s"
                select.select([self._ready_r], [], [], 0.1)
        finally:
            self._requeue_deferred()

    def _requeue_deferred(self) -> None:
        for sig in dict.fromkeys(self.deferred_signals):  # in order, each once
            self.SIG_QUEUE.put_nowait(sig)
        self.deferred_signals = []

    def _stop_requested(self) -> bool:
        """Keep signals that arrive during a rollout for the main loop; True if one is a stop."""
        while not self.SIG_QUEUE.empty():
            sig = self.SIG_QUEUE.get_nowait()
            if sig not in (signal.SIGCHLD, self.WAKEUP_REQUEST):
                self.deferred_signals.append(sig)
        return any(sig in STOP_SIGNALS for sig in self.deferred_signals)

    # --- USR2: re-exec in place ----------------------------------------------------
    def handle_usr2(self) -> None:
        argv = list(sys.argv)
        self.log.info("re-exec: checking %s before replacing this master", argv[0])
        try:
            check = subprocess.run(
                [*argv, "--check-config"],
                cwd=self.START_CTX["cwd"],
                env=self.cfg.env_orig,
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            self.log.error("RE-EXEC REFUSED: the check could not run (%s); this master keeps running", error)
            return
        if self._stop_requested():  # a TERM that came during the check wins
            self.log.info("re-exec: abandoned, the master is asked to stop")
            self._requeue_deferred()
            return
        if check.returncode != 0:
            self.log.error(
                "RE-EXEC REFUSED: `%s --check-config` failed; this master keeps running:\n%s",
                " ".join(argv),
                (check.stdout + check.stderr)[-4000:],
            )
            self._requeue_deferred()
            return
        # A HUP that came during the check needs nothing more: the new master loads the code on disk.
        self.deferred_signals = []
        env = dict(self.cfg.env_orig)
        env[LISTENERS_ENV] = ",".join(str(listener.fileno()) for listener in self.LISTENERS)
        env[RETIRING_ENV] = ",".join(str(pid) for pid in [*self.WORKERS, *self.retiring])
        self.cfg.pre_exec(self)
        self._stop_control_server()
        self.log.info("re-exec: %s (pid %s stays; %d workers serve meanwhile)", argv[0], self.pid, len(self.WORKERS))
        signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
        try:
            os.chdir(self.START_CTX["cwd"])
            os.execvpe(argv[0], argv, env)  # noqa: S606 - argv as Supervisor gave it
        except OSError as error:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
            self._start_control_server()
            self.log.error("RE-EXEC FAILED: %s; this master keeps running", error)


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def use_rolling_arbiter() -> None:
    """Make `gunicorn` run RollingArbiter: the app looks the class up when it starts the master."""
    import gunicorn.app.base

    gunicorn.app.base.Arbiter = RollingArbiter
