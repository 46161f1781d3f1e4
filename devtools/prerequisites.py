"""What `make test` needs on the machine, checked (and where possible provided) before the suite starts.

Programs come from Debian's packages: the missing ones are installed with
apt-get (`apt-get update` first), as root or through `sudo -n`. MariaDB and
Redis must already answer; nothing here starts a server. Anything still missing
ends the run with one line naming it, instead of errors deep inside the suite.

    python -m devtools.prerequisites [--search-path DIRS] [--no-install]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pymysql
import redis

# Program -> the Debian package that ships it. sshd and mariadbd live in sbin, often not on a user's PATH.
PROGRAMS: dict[str, str] = {
    "nginx": "nginx",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "git": "git",
    "wrk": "wrk",
    "redis-server": "redis-server",
    "mysql": "mariadb-client",
    "mysqldump": "mariadb-client",
    "mariadbd": "mariadb-server-core",
    "mariadb-install-db": "mariadb-server-core",
}
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
APT_OPTIONS = ["-o", "DPkg::Lock::Timeout=600", "-qq"]


class MissingPrerequisiteError(Exception):
    """One line for the person running `make test`."""


@dataclass
class Machine:
    search_path: str

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.search_path)

    def missing_packages(self) -> dict[str, list[str]]:
        """Debian package -> its programs that are not installed."""
        missing: dict[str, list[str]] = {}
        for program, package in PROGRAMS.items():
            if self.which(program) is None:
                missing.setdefault(package, []).append(program)
        return missing

    def privilege_prefix(self) -> list[str]:
        if os.geteuid() == 0:
            return []
        sudo = self.which("sudo")
        if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True, check=False).returncode == 0:
            return [sudo, "-n"]
        raise MissingPrerequisiteError("not root, and sudo asks for a password")

    def apt_get(self, prefix: list[str], *args: str) -> None:
        apt_get = self.which("apt-get")
        if apt_get is None:
            raise MissingPrerequisiteError("no apt-get on this machine")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": self.search_path}
        done = subprocess.run(
            [*prefix, apt_get, *APT_OPTIONS, *args], env=env, capture_output=True, text=True, check=False, timeout=900
        )
        if done.returncode != 0:
            last_line = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise MissingPrerequisiteError(f"apt-get {args[0]} exited {done.returncode}: {last_line}")


def describe(missing: dict[str, list[str]]) -> str:
    return ", ".join(f"{'/'.join(programs)} (Debian package {package})" for package, programs in missing.items())


def provide_programs(machine: Machine, install: bool) -> list[str]:
    """Install what is missing; returns the packages installed."""
    missing = machine.missing_packages()
    if not missing:
        return []
    if not install:
        raise MissingPrerequisiteError(f"make test needs {describe(missing)}")
    packages = list(missing)
    print(f"[prerequisites] installing from Debian's packages: {' '.join(packages)}", flush=True)
    try:
        prefix = machine.privilege_prefix()
        machine.apt_get(prefix, "update")
        machine.apt_get(prefix, "install", "-y", "--no-install-recommends", *packages)
    except MissingPrerequisiteError as why:
        raise MissingPrerequisiteError(f"make test needs {describe(missing)} and cannot install them: {why}") from None
    still = machine.missing_packages()
    if still:
        raise MissingPrerequisiteError(f"make test needs {describe(still)}: still missing after apt-get install")
    return packages


def check_servers() -> None:
    """The shared MariaDB and Redis the suite creates its own databases in (tests/isolation.py)."""
    host, port = os.environ.get("DB_HOST", "127.0.0.1"), int(os.environ.get("DB_PORT", "3306"))
    user, password = os.environ.get("DB_USER", "root"), os.environ.get("DB_PASSWORD", "")
    try:
        pymysql.connect(host=host, port=port, user=user, password=password, connect_timeout=3).close()
    except pymysql.MySQLError as error:
        raise MissingPrerequisiteError(f"make test needs MariaDB on {host}:{port} as {user}: {error}") from None
    redis_base = os.environ.get("TEST_REDIS_BASE", "redis://127.0.0.1:6379")
    try:
        redis.Redis.from_url(f"{redis_base}/0", socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as error:
        raise MissingPrerequisiteError(f"make test needs Redis at {redis_base}: {error}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SYSTEM_DIRS])
    parser.add_argument("--search-path", default=default_path, help="where programs are looked for")
    parser.add_argument("--no-install", action="store_true", help="report what is missing, install nothing")
    args = parser.parse_args(argv)
    try:
        installed = provide_programs(Machine(args.search_path), install=not args.no_install)
        check_servers()
    except MissingPrerequisiteError as missing:
        print(f"[prerequisites] {missing}", file=sys.stderr, flush=True)
        return 1
    if installed:
        print(f"[prerequisites] installed {' '.join(installed)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
