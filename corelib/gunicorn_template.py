"""One process per generation that loads the app once; that generation's workers are forked from it.

Five gevent workers that each import Django cost about 65 MB of PSS apiece
(bench/memory.py, idle), mostly the same modules and objects five times over.
Stock Gunicorn shares them only with `preload_app`, which loads the app in the
master: a HUP then cannot load new code (the master never imports again), and
gevent would have to patch the master itself. Here the master forks a
*template* for each generation (the first start, each HUP): the template
patches with gevent as a worker does, loads the app, freezes what it loaded out
of the collector's reach (a collection writes to every object it tracks, which
would copy their pages), and forks the generation's workers, which share those
pages copy-on-write. The next HUP forks a new template, which imports the code
then on disk, so reloads keep their meaning (corelib.gunicorn_arbiter).

Gunicorn's master must stay the parent of every worker: it reaps them, reads
their heartbeat files and signals them. So the master is a child subreaper
(prctl PR_SET_CHILD_SUBREAPER) and the template forks each worker through a
middle process that exits at once: the worker is orphaned and the kernel hands
it to the master. The master creates the Worker and its heartbeat file as
stock Gunicorn does and passes the file's descriptor with the request; the
middle process answers with the worker's pid.

Imported by the master: standard library, gevent and Gunicorn only; the
template imports the app after gevent's patch.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import os
import signal
import socket
import struct
import sys
import time
import traceback

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.workertmp import WorkerTmp

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_INT = struct.Struct("i")
# A worker waits this long to be handed to the master before it gives up (its middle process exits at once).
ADOPTION_SECONDS = 10.0
# Exit status of a template that could not load the app (Gunicorn's Arbiter.APP_LOAD_ERROR).
APP_LOAD_ERROR = 4
# The master's ends of every template's channel: a new template closes them all, so that only the master can
# close a template's channel (and so retire it), and no worker keeps one open.
_channels: set[socket.socket] = set()


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux); False where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def supports(worker_class: type) -> bool:
    """Templates patch with gevent before the app loads: only for gevent workers."""
    return issubclass(worker_class, GeventWorker)


class TemplateError(Exception):
    """The template could not load the app or fork a worker; its status is in `status` once reaped."""

    def __init__(self, pid: int, status: int, reason: str):
        super().__init__(reason)
        self.pid = pid
        self.status = status


class Template:
    """The master's handle on one template process."""

    def __init__(self, pid: int, channel: socket.socket):
        self.pid = pid
        self.channel = channel

    @classmethod
    def start(cls, arbiter) -> Template:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            for channel in [ours, *_channels]:
                channel.close()
            _run_template(arbiter, theirs)  # never returns
        theirs.close()
        _channels.add(ours)
        arbiter.log.info("app template %s forked: it loads the app once for this generation's workers", pid)
        return cls(pid, ours)

    def fork_worker(self, age: int, heartbeat_fd: int, timeout: float) -> int:
        """Ask for a worker; its pid. Raises TemplateError (the template is then gone or killed)."""
        self.channel.settimeout(timeout)
        try:
            socket.send_fds(self.channel, [_INT.pack(age)], [heartbeat_fd])
            answer = self.channel.recv(_INT.size)
        except TimeoutError:
            self.kill()
            reason = f"app template {self.pid} not ready within {timeout:.0f}s"
            raise TemplateError(self.pid, self.reap(), reason) from None
        except OSError:
            answer = b""
        pid = _INT.unpack(answer)[0] if len(answer) == _INT.size else 0
        if pid <= 0:
            if answer:
                reason = f"app template {self.pid} could not fork a worker"
                self.kill()
            else:
                reason = f"app template {self.pid} could not load the app; its traceback is above"
            raise TemplateError(self.pid, self.reap(), reason)
        return pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def reap(self) -> int:
        self.close()
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            return 0

    def close(self) -> None:
        _channels.discard(self.channel)
        self.channel.close()


# --- in the template ----------------------------------------------------------------
def _run_template(arbiter, channel: socket.socket) -> None:
    code = 0
    try:
        _serve(arbiter, channel)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001 - anything that escapes must end this process, never return into the master's code
        arbiter.log.error("app template %s failed:\n%s", os.getpid(), traceback.format_exc())
        code = APP_LOAD_ERROR
    finally:
        _exit(code)


def _serve(arbiter, channel: socket.socket) -> None:
    for sig in (*arbiter.SIGNALS, signal.SIGCHLD):  # the master's handlers must not run here
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, arbiter.SIGNALS)
    _close_heartbeats_of(arbiter)
    util._setproctitle(f"template [{arbiter.proc_name}]")
    if arbiter.cfg.env:
        os.environ.update(arbiter.cfg.env)

    from gevent import monkey  # as the worker does first, before anything of the app is imported

    monkey.patch_all()
    fork = monkey.get_original("os", "fork")
    waitpid = monkey.get_original("os", "waitpid")
    try:
        arbiter.app.wsgi()  # the app: Django set up, the URLconf imported (corelib.wsgi)
    except BaseException:  # noqa: BLE001 - reported to the master as a failed load
        arbiter.log.error("app template %s could not load the app:\n%s", os.getpid(), traceback.format_exc())
        _exit(APP_LOAD_ERROR)
    # Loading the app may have made per-process state under this pid (gunicorn.conf.py: the live gauges of
    # Prometheus' multiprocess files); this process never serves, so it is cleaned up as a gone worker's is.
    arbiter.cfg.child_exit(arbiter, _NotAWorker(os.getpid()))
    gc.collect()
    gc.freeze()
    arbiter.log.info("app template %s loaded the app", os.getpid())

    while True:
        message, fds, _flags, _address = socket.recv_fds(channel, _INT.size, 1)
        if not message:
            _exit(0)  # the master closed its end: retired
        (age,) = _INT.unpack(message)
        middle = fork()
        if middle == 0:
            answered = 1
            try:
                worker = fork()
                if worker == 0:
                    channel.close()
                    _run_worker(arbiter, age, fds[0])  # never returns
                channel.send(_INT.pack(worker))
                answered = 0
            finally:
                os._exit(answered)  # the worker's parent is gone: the kernel hands it to the master
        for fd in fds:
            os.close(fd)
        _pid, status = waitpid(middle, 0)
        if status != 0:
            channel.send(_INT.pack(0))


class _NotAWorker:
    """What Gunicorn's child_exit hook is given for a process of the server that serves no request."""

    def __init__(self, pid: int):
        self.pid = pid


def _close_heartbeats_of(arbiter) -> None:
    """As stock Gunicorn's child does: keep no other worker's heartbeat file open."""
    for worker in [*arbiter.WORKERS.values(), *arbiter.retiring.values()]:
        if worker is not None:
            worker.tmp.close()


# --- in a worker ---------------------------------------------------------------------
def _run_worker(arbiter, age: int, heartbeat_fd: int) -> None:
    """What stock Gunicorn's child does after its fork (Arbiter.spawn_worker), once the master adopted it."""
    from gunicorn.errors import AppImportError

    code = 0
    worker = None
    try:
        _wait_until_adopted(arbiter.pid)
        worker = arbiter.worker_class(
            age, arbiter.pid, arbiter.LISTENERS, arbiter.app, arbiter.timeout / 2.0, arbiter.cfg, arbiter.log
        )
        worker.tmp.close()
        worker.tmp = _heartbeat_file(heartbeat_fd)
        worker.pid = os.getpid()
        util._setproctitle(f"worker [{arbiter.proc_name}]")
        arbiter.log.info("Booting worker with pid: %s", worker.pid)
        arbiter.cfg.post_fork(arbiter, worker)
        worker.init_process()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except AppImportError as error:
        print(error, file=sys.stderr)
        code = arbiter.APP_LOAD_ERROR
    except BaseException as error:  # noqa: BLE001 - as stock: logged, and the exit status tells the master
        arbiter.log.exception("Exception in worker process")
        print(error, file=sys.stderr)
        code = arbiter.WORKER_BOOT_ERROR if worker is None or not worker.booted else -1
    finally:
        if worker is not None:
            arbiter.log.info("Worker exiting (pid: %s)", worker.pid)
            try:
                worker.tmp.close()
                arbiter.cfg.worker_exit(arbiter, worker)
            except Exception:  # noqa: BLE001 - as stock
                arbiter.log.warning("Exception during worker exit:\n%s", traceback.format_exc())
        atexit._run_exitfuncs()  # what a normal exit would run (Sentry's flush, logging's shutdown)
        _exit(code)


def _wait_until_adopted(master: int) -> None:
    from gevent import monkey

    select = monkey.get_original("select", "select")  # no hub in this process yet
    sleep = monkey.get_original("time", "sleep")
    deadline = time.monotonic() + ADOPTION_SECONDS
    parent = os.getppid()
    if parent != master:
        try:
            middle = os.pidfd_open(parent)  # readable once the middle process has exited
        except OSError:  # gone already, or a kernel before 5.3: polled below
            pass
        else:
            select([middle], [], [], ADOPTION_SECONDS)
            os.close(middle)
    while os.getppid() != master and time.monotonic() < deadline:
        sleep(0.001)
    if os.getppid() != master:
        raise RuntimeError(f"worker {os.getpid()} was not handed to the master {master}: is it a child subreaper?")


def _heartbeat_file(fd: int) -> WorkerTmp:
    """A WorkerTmp around the master's file for this worker (Worker() made one of its own, closed above)."""
    tmp = WorkerTmp.__new__(WorkerTmp)
    tmp._tmp = os.fdopen(fd, "w+b", 0)
    return tmp


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)
