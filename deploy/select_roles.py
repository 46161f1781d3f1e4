"""Keep in this release only the Supervisor programs of this host's roles.

Run by `fab deploy` on the host, in the new release, before it goes live. The
top-level supervisord_<env>.conf includes deploy/supervisor/*.conf: one part
per role plus group.conf. A checkout runs every role (ten RQ workers); a host
keeps the parts its roles name, with its number of RQ workers, and group.conf
listing just those programs (Supervisor refuses a group naming a missing one).
The scheduler is forked by the worker role's rqforkserver; on a host without
that role it runs as a process of its own (the command scheduler.conf keeps
for it).
"""

import argparse
import re
import sys
from pathlib import Path

PARTS = Path(__file__).resolve().parent / "supervisor"
PROGRAMS = {"web": ["gunicorn"], "worker": ["rqforkserver", "rqworker"], "scheduler": ["rqscheduler"]}
STANDALONE = re.compile(r"(?m)^; standalone: (command = .*)\n")


def select(roles: list[str], workers: int, parts: Path = PARTS) -> list[str]:
    """Rewrite the parts in `parts` for these roles; returns the programs kept."""
    unknown = sorted(set(roles) - set(PROGRAMS))
    if unknown:
        raise SystemExit(f"unknown role(s): {', '.join(unknown)} (known: {', '.join(PROGRAMS)})")
    for role in PROGRAMS:
        if role not in roles:
            (parts / f"{role}.conf").unlink()
    if "worker" in roles:
        worker = parts / "worker.conf"
        text, count = re.subn(r"(?m)^numprocs = \d+$", f"numprocs = {workers}", worker.read_text())
        if count != 1:
            raise SystemExit(f"{worker}: expected one 'numprocs = N' line")
        worker.write_text(text)
    elif "scheduler" in roles:
        standalone_scheduler(parts / "scheduler.conf")
    programs = [program for role in PROGRAMS if role in roles for program in PROGRAMS[role]]
    group = parts / "group.conf"
    text, count = re.subn(r"(?m)^programs = .*$", f"programs = {','.join(programs)}", group.read_text())
    if count != 1:
        raise SystemExit(f"{group}: expected one 'programs = ...' line")
    group.write_text(text)
    return programs


def standalone_scheduler(scheduler: Path) -> None:
    """Run the scheduler without rqforkserver: scheduler.conf's standalone command replaces the relay."""
    text = scheduler.read_text()
    standalone = STANDALONE.search(text)
    if standalone is None:
        raise SystemExit(f"{scheduler}: expected one '; standalone: command = ...' line")
    text = STANDALONE.sub("", text)
    text, count = re.subn(r"(?m)^command = .*$", lambda _: standalone.group(1), text)
    if count != 1:
        raise SystemExit(f"{scheduler}: expected one 'command = ...' line")
    scheduler.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--roles", required=True, help="comma-separated: web, worker, scheduler")
    parser.add_argument("--workers", type=int, default=10, help="RQ worker processes (worker role)")
    args = parser.parse_args()
    programs = select([role for role in args.roles.split(",") if role], args.workers)
    print(f"programs: {', '.join(programs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
