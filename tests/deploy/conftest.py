"""A "remote" host for `fab`: a real sshd on 127.0.0.1 and a checkout cloned from a local origin."""

import getpass
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.runtime.stack import stop_supervisord, tracked_files
from tests.support import PROJECT_ROOT, free_port, stop_process, subprocess_env, wait_for_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


class Origin:
    """The repository `fab` deploys from: commits are made here, the host fetches them."""

    def __init__(self, path: Path):
        self.path = path

    def commit(self, message: str, changes: dict[str, str] | None = None) -> str:
        for name, text in (changes or {}).items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git(self.path, "add", "-A")
        git(self.path, "commit", "--quiet", "--allow-empty", "-m", message)
        return git(self.path, "rev-parse", "HEAD")

    def read(self, name: str) -> str:
        return (self.path / name).read_text()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """sshd on a free port, accepting a key generated here for the current user."""
    home = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / name)], check=True, timeout=30)
    (home / "authorized_keys").write_text((home / "client_key.pub").read_text())
    os.chmod(home / "authorized_keys", 0o600)
    port = free_port()
    (home / "sshd_config").write_text(
        textwrap.dedent(f"""\
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {home}/host_key
            PidFile {home}/sshd.pid
            AuthorizedKeysFile {home}/authorized_keys
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no
            Subsystem sftp /usr/lib/openssh/sftp-server
            """)
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(home / "sshd_config")], stderr=subprocess.PIPE)
    try:
        wait_for_port(port, timeout=15)
        yield {"port": port, "key": str(home / "client_key"), "user": getpass.getuser()}
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """Revision A: this checkout's files as they would be committed."""
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


@pytest.fixture(scope="module")
def host(tmp_path_factory, sshd, origin, django_db_setup, django_db_blocker):
    """The host's checkout (a clone of origin at A) with its .env, and the env `fab` runs with."""
    app = tmp_path_factory.mktemp("host") / "app"
    subprocess.run(["git", "clone", "--quiet", str(origin.path), str(app)], check=True, timeout=60)
    (app / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    port = free_port()
    with django_db_blocker.unblock():
        service = subprocess_env()
    settings = {
        "DB_NAME": service["DB_NAME"],
        "ADMIN_DB_NAME": service["ADMIN_DB_NAME"],
        "DB_SSL_DISABLED": "1",
        "REDIS_URL": service["REDIS_URL"],
        "CACHE_KEY_PREFIX": service["CACHE_KEY_PREFIX"],
        "LOG_DIR": str(app / "logs"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "DB_POOL_SIZE": "5",
    }
    # The host's secrets and per-machine values: its .env, as on a real host.
    (app / ".env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    fab_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DB_", "ADMIN_DB_", "REDIS_", "GUNICORN_", "PYTEST_"))
    }
    fab_env.update(
        DEPLOY_TEST_HOSTS="127.0.0.1",
        DEPLOY_TEST_PORT=str(sshd["port"]),
        DEPLOY_TEST_USER=sshd["user"],
        DEPLOY_TEST_KEY=sshd["key"],
        DEPLOY_TEST_PATH=str(app),
        DEPLOY_TEST_BRANCH="main",
        DEPLOY_TEST_READY_TIMEOUT="120",
        DEPLOY_BACKUP_DIR=str(app.parent / "backups"),
    )
    info = {"app": app, "url": f"http://127.0.0.1:{port}", "env": fab_env, "redis_url": settings["REDIS_URL"]}
    try:
        yield info
    finally:
        stop_supervisord(app, "supervisord_test.conf", fab_env, "pids/supervisord-test.pid")


def fab(host: dict, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`fab ARGS` from this checkout (its fabfile), as a developer types it."""
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/fab"), *args],
        cwd=PROJECT_ROOT,
        env={**host["env"], **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(f"\n$ fab {' '.join(args)}  -> exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result
