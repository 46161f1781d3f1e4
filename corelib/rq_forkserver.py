"""The parent of every RQ worker: Django loaded once, a worker forked for each relay that asks.

Ten RQ workers each loading Django cost 51 MB of PSS apiece, 512 MB in all
(bench/memory.py, idle). Forked from one parent that has imported Django, the
worker class and the apps' jobs, and frozen those objects out of the garbage
collector's reach (a collection writes to every object it tracks, and so would
copy their pages), they share those pages copy-on-write.

Supervisor still shows and controls ten programs: each `rqworker_NN` is a
relay (corelib.rq_relay) that asks this server for its worker over a unix
socket. The scheduler (`rqscheduler`, corelib.scheduler) is forked the same way
where the host also runs the workers: as a Django process of its own it cost
55 MB of PSS, forked from here it shares this server's pages like a worker.
Per request this server forks a worker (or the scheduler) that:

- writes to the relay's stdout and stderr (passed with the request), so each
  worker keeps its own log, and registers under the relay's program name;
- runs in a process group of its own, so only its relay's signals reach it;
- tells its relay how it exited; when it cannot (killed by a signal), this
  server does once it has reaped it;
- stops warmly (finishes its job) if its relay dies, so that a restarted relay
  never makes an eleventh worker.

HUP (a deploy's `signal HUP all`) makes this server re-exec itself on the code
now on disk, keeping its listening socket: relays that ask meanwhile wait in
its backlog and get a worker of the new code. The workers already running are
told by their own relays to stop, and report to their relays directly, so
they outlive the exec; its image then only reaps them. TERM or INT stops the
server and leaves running workers to their relays.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path

from django.utils.module_loading import autodiscover_modules

from corelib import hangup

INHERITED_FD = "RQ_FORKSERVER_FD"  # the listening socket across a re-exec
# What a relay may ask for: the management command its child runs (the worker gets the queues too).
KINDS = {"worker": "rqworker", "scheduler": "run_scheduler"}
BACKLOG = 64
REAP_SECONDS = 1.0
REQUEST_SECONDS = 5.0


def preload() -> None:
    """Import what every worker will use, then freeze it (see the module docstring)."""
    import django_rq.management.commands.rqworker  # noqa: F401
    import rq.worker  # noqa: F401

    import corelib.rq  # noqa: F401  # settings.RQ's WORKER_CLASS
    import corelib.scheduler  # noqa: F401  # rq-scheduler, for a forked scheduler

    autodiscover_modules("jobs")  # each app's jobs, which the work horses run
    gc.collect()
    gc.freeze()


def listening_socket(path: str) -> socket.socket:
    """The socket inherited from the image before a re-exec, else a new one at `path`."""
    inherited = os.environ.pop(INHERITED_FD, None)
    if inherited:
        return socket.socket(fileno=int(inherited))
    Path(path).unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(BACKLOG)
    return listener


class ForkServer:
    def __init__(self, listener: socket.socket, queues: list[str]):
        self.listener = listener
        self.queues = queues
        self.workers: dict[int, socket.socket] = {}  # pid -> its relay's connection
        self.reload_requested = False
        self.stop_requested = False

    def serve(self) -> None:
        signal.signal(signal.SIGHUP, self._on_hangup)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        hangup.accept_hangup()  # a HUP held since manage.py started lands here: re-exec at once
        say(f"serving on {self.listener.getsockname()}, queues {' '.join(self.queues)}")
        while not self.stop_requested:
            if self.reload_requested:
                self.reexec()
            readable, _, _ = select.select([self.listener], [], [], REAP_SECONDS)
            self.reap()
            if readable and not (self.reload_requested or self.stop_requested):
                self.answer(self.listener.accept()[0])
        say("stopped; the running workers stay with their relays")

    def _on_hangup(self, signum, frame) -> None:
        self.reload_requested = True

    def _on_stop(self, signum, frame) -> None:
        self.stop_requested = True

    def answer(self, connection: socket.socket) -> None:
        try:
            connection.settimeout(REQUEST_SECONDS)  # a relay sends its request as soon as it connects
            message, fds, _, _ = socket.recv_fds(connection, 256, 2)
            connection.settimeout(None)
            word, _, program = message.decode().strip().partition(" ")
            if word not in KINDS or len(fds) != 2:
                raise ValueError(f"unexpected request {message!r} with {len(fds)} descriptors")
        except (OSError, ValueError) as error:
            say(f"bad request: {error}")
            connection.close()
            return
        pid = self.fork_worker(connection, fds, word, program)
        for fd in fds:
            os.close(fd)
        self.workers[pid] = connection
        try:
            connection.sendall(f"pid {pid}\n".encode())
        except OSError:
            pass  # the relay is gone: the worker has seen it too and stops
        say(f"{word} {pid} for {program}")

    def fork_worker(self, connection: socket.socket, fds: list[int], kind: str, program: str) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        # Held across the fork: the child must not run this server's handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGTERM, signal.SIGINT})
        pid = os.fork()
        if pid:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP, signal.SIGTERM, signal.SIGINT})
            return pid
        status = 1
        try:
            self.become_worker(connection, fds)
            from django.core.management import call_command

            if kind == "worker":
                call_command(KINDS[kind], *self.queues, name=program)
            else:
                call_command(KINDS[kind])
            status = 0
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            report_exit(connection, status)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)

    def become_worker(self, connection: socket.socket, fds: list[int]) -> None:
        """In the child: its relay's output, its own process group, this server's state dropped."""
        os.setpgid(0, 0)
        self.listener.close()
        for other in self.workers.values():
            other.close()
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        hangup.defer_hangup()  # HUP waits for the worker's handler (corelib.rq), as in a started process
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        hangup.restart_clock()
        hangup.report_exit_to(lambda status: report_exit(connection, status))
        threading.Thread(target=stop_when_relay_closes, args=(connection,), daemon=True).start()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            connection = self.workers.pop(pid, None)
            if connection is None:
                continue  # forked by this server's image before a re-exec: it told its relay itself
            if os.WIFSIGNALED(status):
                message = f"signal {os.WTERMSIG(status)}\n"
            else:
                message = f"exit {os.waitstatus_to_exitcode(status)}\n"
            try:
                connection.sendall(message.encode())  # the worker's own report, if any, came first
            except OSError:
                pass
            connection.close()

    def reexec(self) -> None:
        """Replace this process by the code on disk now, same pid, same listening socket."""
        say("HUP: re-exec on the code on disk")
        self.listener.set_inheritable(True)
        os.environ[INHERITED_FD] = str(self.listener.fileno())
        root = os.environ.get("MINIPROGRAM_ROOT")
        if root:
            os.chdir(root)  # a deploy points the root at a new release
        sys.stdout.flush()
        sys.stderr.flush()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # the new image handles the next HUP
        try:
            os.execv(sys.orig_argv[0], sys.orig_argv)  # noqa: S606 - argv as Supervisor gave it
        except OSError:
            traceback.print_exc()
            say("RE-EXEC FAILED; serving on the code loaded before")
            self.reload_requested = False
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})


def say(message: str) -> None:
    """A line in this server's own log (Supervisor's rqforkserver log)."""
    print(f"rq fork server [{os.getpid()}]: {message}", flush=True)


def report_exit(connection: socket.socket, status: int) -> None:
    try:
        connection.sendall(f"exit {status}\n".encode())
    except OSError:
        pass  # the relay is gone


def stop_when_relay_closes(connection: socket.socket) -> None:
    """In a worker: its relay's end of the connection closing means the relay died."""
    try:
        while connection.recv(64):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGHUP)  # the worker's warm stop: its job, if any, finishes
