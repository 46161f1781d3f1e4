"""Hosts for `fab`: each a real sshd on its own loopback address, with the deploy's layout.

A host is a directory (its deploy path, with repo/ a mirror of the origin
repository and shared/.env its settings) reached over SSH at 127.0.0.x. All
hosts use this test run's MariaDB databases and Redis database, as the hosts
of one environment share theirs.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.release import venv_name
from tests.runtime.stack import program_states, stop_supervisord, tracked_files
from tests.support import PROJECT_ROOT, free_port, stop_process, subprocess_env, wait_for_port

# The interpreter behind this venv: what the hosts build their release venvs with.
BASE_PYTHON = os.path.realpath(sys.executable)
NEEDED = {
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "nginx": "nginx",
    "git": "git",
    "mysqldump": "mariadb-client",
    "mysql": "mariadb-client",
}


def program(name: str) -> str:
    """Path of a program the deploy tests need, or one clear failure line naming it."""
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.access(p, os.X_OK)), None)
    if not found:
        pytest.fail(f"{name} is not installed: install the Debian package {NEEDED[name]} (.ci/run does)", pytrace=False)
    return found


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


class Origin:
    """The repository `fab` deploys from: commits are made here, the hosts' mirrors fetch them."""

    def __init__(self, path: Path):
        self.path = path

    def commit(self, message: str, changes: dict[str, str] | None = None, *, branch: str = "main") -> str:
        """Commit on `branch` (created from main if new; main stays checked out) and return the hash."""
        if branch != "main":
            git(self.path, "checkout", "--quiet", "-B", branch, "main")
        try:
            for name, text in (changes or {}).items():
                target = self.path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            git(self.path, "add", "-A")
            git(self.path, "commit", "--quiet", "--allow-empty", "-m", message)
            return git(self.path, "rev-parse", "HEAD")
        finally:
            if branch != "main":
                git(self.path, "checkout", "--quiet", "main")

    def read(self, name: str) -> str:
        return (self.path / name).read_text()


@dataclass
class SSHD:
    address: str
    port: int
    process: subprocess.Popen


@dataclass
class Host:
    """One host as the tests see it: its files, and what it serves."""

    name: str
    address: str
    ssh_port: int
    path: Path
    roles: tuple[str, ...]
    workers: int
    web_port: int

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.web_port}"

    def live(self) -> str:
        """The live release's id ("" before the first deploy)."""
        current = self.path / "current"
        return os.readlink(current).rsplit("/", 1)[-1] if current.is_symlink() else ""

    def revision(self) -> str:
        return (self.path / "current" / "REVISION").read_text().strip()

    def releases(self) -> list[str]:
        return sorted(entry.name for entry in (self.path / "releases").iterdir())

    def programs(self, conf: str) -> dict[str, str]:
        return program_states(self.path / "current", conf, dict(os.environ))

    def toml(self) -> str:
        roles = ", ".join(f'"{role}"' for role in self.roles)
        return (
            f'{{ address = "{self.address}", port = {self.ssh_port}, roles = [{roles}], '
            f'workers = {self.workers}, path = "{self.path}" }}'
        )


@pytest.fixture(scope="package")
def client_key(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("ssh-client")
    subprocess.run(
        [program("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(home / "key")], check=True, timeout=30
    )
    return home / "key"


def start_sshd(home: Path, address: str, authorized: Path) -> SSHD:
    """sshd on `address`, accepting the client key for the current user."""
    home.mkdir(parents=True)
    subprocess.run(
        [program("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(home / "host_key")], check=True, timeout=30
    )
    port = free_port()
    (home / "sshd_config").write_text(
        textwrap.dedent(f"""\
            Port {port}
            ListenAddress {address}
            HostKey {home}/host_key
            PidFile {home}/sshd.pid
            AuthorizedKeysFile {authorized}
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no
            MaxStartups 50
            Subsystem sftp /usr/lib/openssh/sftp-server
            """)
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    process = subprocess.Popen(
        [program("sshd"), "-D", "-e", "-f", str(home / "sshd_config")],
        stderr=(home / "sshd.log").open("w"),
    )
    wait_for_port(port, timeout=15, host=address)
    return SSHD(address, port, process)


@pytest.fixture(scope="package")
def sshd_servers(tmp_path_factory, client_key):
    """Three sshd, on 127.0.0.2, .3 and .4: three machines as far as `fab` can tell."""
    home = tmp_path_factory.mktemp("sshd")
    authorized = home / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    os.chmod(authorized, 0o600)
    servers = []
    try:
        for number in (2, 3, 4):
            servers.append(start_sshd(home / f"host{number}", f"127.0.0.{number}", authorized))
        yield servers
    finally:
        for server in servers:
            stop_process(server.process)


@pytest.fixture(scope="package")
def origin(tmp_path_factory):
    """Revision A: this checkout's files as they would be committed."""
    program("git")
    path = tmp_path_factory.mktemp("origin") / "miniprogram"
    path.mkdir()
    for name in tracked_files():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, path / name)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "config", "user.email", "deploy-test@example.com")
    git(path, "config", "user.name", "Deploy test")
    repo = Origin(path)
    repo.commit("revision A")
    return repo


@pytest.fixture(scope="package")
def seeded_venv(tmp_path_factory, origin) -> tuple[str, Path]:
    """A venv built from revision A's lock once, which every host's first deploy finds (the name it would build)."""
    folder = tmp_path_factory.mktemp("venv-seed") / "venv"
    uv = str(PROJECT_ROOT / ".venv/bin/uv")  # what a deploy uses once a host has a live release
    subprocess.run([uv, "venv", "--quiet", "--python", BASE_PYTHON, str(folder)], check=True, timeout=120)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(folder / "bin/python"), "--require-hashes", "--no-deps"]
        + ["-r", str(origin.path / "requirements.lock")],
        check=True,
        timeout=600,
    )
    (folder / ".complete").touch()
    version = subprocess.run(
        [BASE_PYTHON, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    digest = hashlib.sha256((origin.path / "requirements.lock").read_bytes()).hexdigest()
    return venv_name(digest, version), folder


def prepare_host(host: Host, origin: Origin, seeded_venv: tuple[str, Path], settings: dict[str, str]) -> None:
    """What README's "Preparing a host" does: the mirror and shared/.env (plus the seeded venv)."""
    host.path.mkdir(parents=True)
    subprocess.run(
        ["git", "clone", "--quiet", "--mirror", str(origin.path), str(host.path / "repo")], check=True, timeout=60
    )
    (host.path / "shared" / "venvs").mkdir(parents=True)
    name, folder = seeded_venv
    (host.path / "shared" / name).symlink_to(folder)
    (host.path / "shared" / ".env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))


def service_settings(django_db_blocker) -> dict[str, str]:
    """This run's databases and Redis, for a host's .env."""
    with django_db_blocker.unblock():
        service = subprocess_env()
    return {
        "DB_NAME": service["DB_NAME"],
        "ADMIN_DB_NAME": service["ADMIN_DB_NAME"],
        "DB_SSL_DISABLED": "1",
        "REDIS_URL": service["REDIS_URL"],
        "CACHE_KEY_PREFIX": service["CACHE_KEY_PREFIX"],
        "ALLOWED_HOSTS": "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,localhost",
        "DB_POOL_SIZE": "5",
        "SECRET_KEY": service["SECRET_KEY"],
    }


def fab_environment(config: Path, key: Path, backups: Path) -> dict[str, str]:
    """The operator's environment: none of this test run's settings leak into `fab`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DB_", "ADMIN_DB_", "REDIS_", "GUNICORN_", "PYTEST_", "DEPLOY_"))
    }
    env.update(DEPLOY_CONFIG=str(config), DEPLOY_BACKUP_DIR=str(backups))
    return env


def environment_toml(name: str, hosts: list[Host], key: Path, **keys) -> str:
    settings = {
        "user": getpass.getuser(),
        "key": str(key),
        "path": str(hosts[0].path),
        "branch": "main",
        "settings": f"project.settings_{name}",
        "supervisor_conf": f"supervisord_{name}.conf",
        "python": BASE_PYTHON,
        "ready_timeout": 90,
        "workers_timeout": 120,  # the test jobs take a second; bounded all the same
        **keys,
    }
    lines = [f"[{name}]"]
    for option, value in settings.items():
        lines.append(f"{option} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{option} = {value}")
    lines.append("hosts = [\n" + "".join(f"    {host.toml()},\n" for host in hosts) + "]")
    return "\n".join(lines) + "\n"


def run_fab(env: dict, *args: str, timeout: float = 400, **overrides: str) -> subprocess.CompletedProcess:
    """`fab ARGS` from this checkout (its fabfile), as an operator types it."""
    started = time.monotonic()
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/fab"), *args],
        cwd=PROJECT_ROOT,
        env={**env, **overrides},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result.seconds = time.monotonic() - started
    print(f"\n$ fab {' '.join(args)}  -> exit {result.returncode} in {result.seconds:.1f}s")
    print(result.stdout + result.stderr)
    return result


def stop_host(host: Host, conf: str, pidfile: str) -> None:
    if (host.path / "current").exists():
        stop_supervisord(host.path / "current", conf, dict(os.environ), pidfile)
