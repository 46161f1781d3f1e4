"""One Supervisor program per RQ worker: asks the fork server for a worker and stands in for it.

    python -S -m corelib.rq_relay socks/rqworkers-<env>.sock [worker|scheduler]

The scheduler program (`rqscheduler`) is such a relay too where the host runs
the workers, asking for `scheduler` instead of a `worker`; what follows holds
for it the same way.

Ten full Django processes cost about 50 MB each; ten workers forked from one
Django parent (corelib.rq_forkserver) share most of it copy-on-write. Supervisor
can only show, signal and restart processes it started itself, so each of its
ten `rqworker_NN` programs is this relay, a few MB of standard library:

- it sends its program name, stdout and stderr over the fork server's unix
  socket and gets back the pid of the worker forked for it (the worker writes
  to this program's log, and registers under this program's name);
- every signal Supervisor sends it (HUP on a reload, TERM to stop) goes to the
  worker, whose class decides what it means (corelib.rq);
- it exits with the worker's exit status, or dies of the signal that killed it,
  so Supervisor records the worker's exit as its own.

A signal that arrives before the worker exists is kept and passed on as soon
as it does; a stop before the request was even sent exits 0 without a worker.
If the relay dies, the worker sees its connection close and stops warmly
(finishing its job), so a restarted relay never makes an eleventh worker. If
the fork server is down or restarting, the relay waits for it.

Standard library only (`python -S`): the point is to be small.
"""

import os
import signal
import socket
import sys
import time

from corelib.hangup import START_PERIOD

RELAYED = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
STOPS = frozenset({signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})
RETRY_SECONDS = 0.5


class Relay:
    def __init__(self, socket_path: str, program: str, kind: str = "worker"):
        self.socket_path = socket_path
        self.program = program
        self.kind = kind
        self.started = time.monotonic()
        self.worker_pid: int | None = None
        self.held: list[int] = []
        self.waiting = False

    def on_signal(self, signum: int, frame) -> None:
        if self.worker_pid is None:
            self.held.append(signum)
            return
        try:
            os.kill(self.worker_pid, signum)
        except ProcessLookupError:
            pass  # exiting already: its status is on the way

    def run(self) -> None:
        for signum in RELAYED:
            signal.signal(signum, self.on_signal)
        while True:
            if STOPS.intersection(self.held):
                self.log(f"stopped before a {self.kind} was started for it")
                self.exit(0)
            connection = self.request_worker()
            if connection is None:
                time.sleep(RETRY_SECONDS)
                continue
            outcome = self.follow(connection)
            if outcome is not None:
                self.finish(*outcome)
            # The fork server went away before it forked a worker for this request: ask again.

    def request_worker(self) -> socket.socket | None:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(self.socket_path)
            socket.send_fds(connection, [f"{self.kind} {self.program}\n".encode()], [1, 2])
        except OSError as error:
            connection.close()
            if not self.waiting:  # once per wait, not every RETRY_SECONDS
                self.log(f"waiting for the fork server ({error.strerror})")
            self.waiting = True
            return None
        self.waiting = False
        return connection

    def follow(self, connection: socket.socket) -> tuple[str, int] | None:
        """Read the worker's pid then how it ended; None if the fork server closed before the pid."""
        with connection, connection.makefile("r") as lines:
            for line in lines:
                word, _, value = line.partition(" ")
                if word == "pid":
                    self.worker_pid = int(value)
                    self.log(f"{self.kind} pid {self.worker_pid}")
                    held, self.held = self.held, []
                    for signum in held:
                        self.on_signal(signum, None)
                elif word in ("exit", "signal"):
                    return word, int(value)
        if self.worker_pid is None:
            return None
        # Both the worker and the fork server are gone without a word: it was killed.
        self.log(f"{self.kind} {self.worker_pid} ended without an exit status")
        return "exit", 1

    def finish(self, how: str, value: int) -> None:
        if how == "signal":
            self.log(f"{self.kind} {self.worker_pid} killed by signal {value}")
            if value in RELAYED:  # this relay's own handler would catch it (SIGKILL has none)
                signal.signal(value, signal.SIG_DFL)
            os.kill(os.getpid(), value)
        self.exit(value)

    def exit(self, status: int) -> None:
        # Supervisor counts any exit within `startsecs` as a failed start.
        remaining = self.started + START_PERIOD - time.monotonic()
        if status == 0 and remaining > 0:
            time.sleep(remaining)
        sys.stdout.flush()
        os._exit(status)

    def log(self, message: str) -> None:
        print(f"rq_relay {self.program} [{os.getpid()}]: {message}", flush=True)


KINDS = ("worker", "scheduler")  # corelib.rq_forkserver.KINDS, not imported: it loads Django


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3) or argv[2:] and argv[2] not in KINDS:
        raise SystemExit(f"usage: python -S -m corelib.rq_relay SOCKET_PATH [{'|'.join(KINDS)}]")
    kind = argv[2] if len(argv) == 3 else "worker"
    program = os.environ.get("SUPERVISOR_PROCESS_NAME", f"rq{kind}.{os.getpid()}")
    Relay(argv[1], program, kind).run()


if __name__ == "__main__":
    main(sys.argv)
