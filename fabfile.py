"""Deploys with Fabric 3, typed as the service always has been.

    fab deploy:test | fab deploy:master       (or: fab deploy --env test [--revision SHA])
    fab status:test | fab rollback:test | fab backup:master

Fabric 3 has no `task:arg` syntax, so each environment's variant is registered
in the collection under that literal name ("deploy:test").

Hosts, user, path and branch come from deploy/environments.toml, overridable by
DEPLOY_<ENV>_<KEY> environment variables; secrets stay in each host's .env.
Hosts are done one at a time. On each: fetch, install requirements only when
they changed, `manage.py check` of the new revision in a scratch worktree
(a broken revision stops here, nothing running is touched), check out,
migrate (or schema_check where a DBA owns the schema), collectstatic, start
Supervisor or `signal HUP all`, and wait for /api/ready plus the new revision.
If that wait fails the host goes back to its previous revision and the run
stops, leaving the remaining hosts untouched.
"""

from __future__ import annotations

import os
import shlex
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fabric import Connection
from invoke import Collection, Exit, task

ROOT = Path(__file__).resolve().parent
CONFIG = Path(os.environ.get("DEPLOY_CONFIG", str(ROOT / "deploy" / "environments.toml")))
ENVIRONMENTS = ("test", "master")
STATE = "var/deploy"  # per-host deploy state, inside the (ignored) var/ of the checkout


@dataclass
class Target:
    """One environment's deploy settings, after environment overrides."""

    name: str
    hosts: list[str]
    user: str
    port: int
    key: str
    path: str
    branch: str
    settings: str
    supervisor_conf: str
    ready_timeout: float


def load_target(name: str) -> Target:
    sections = tomllib.loads(CONFIG.read_text())
    if name not in sections:
        raise Exit(f"No environment '{name}' in {CONFIG} (known: {', '.join(sections)}).", code=2)
    section = sections[name]

    def value(key: str):
        return os.environ.get(f"DEPLOY_{name.upper()}_{key.upper()}", section.get(key))

    hosts = value("hosts")
    if isinstance(hosts, str):
        hosts = [host.strip() for host in hosts.split(",") if host.strip()]
    if not hosts:
        raise Exit(f"No hosts for '{name}': set hosts in {CONFIG} or DEPLOY_{name.upper()}_HOSTS.", code=2)
    return Target(
        name=name,
        hosts=list(hosts),
        user=value("user"),
        port=int(value("port") or 22),
        key=os.path.expanduser(value("key") or ""),
        path=value("path"),
        branch=value("branch"),
        settings=value("settings"),
        supervisor_conf=value("supervisor_conf"),
        ready_timeout=float(value("ready_timeout") or 90),
    )


class StepFailedError(Exception):
    """A step failed on a host; its output has been printed."""


class Host:
    """Commands on one host's checkout, with a line of progress per step."""

    def __init__(self, target: Target, host: str, position: str):
        self.target = target
        self.label = f"[{target.name} {position} {host}]"
        kwargs = {"key_filename": target.key} if target.key else {}
        self.conn = Connection(host, user=target.user, port=target.port, connect_kwargs=kwargs, connect_timeout=15)
        self.env = f"DJANGO_SETTINGS_MODULE={shlex.quote(target.settings)}"
        self.python = f"{shlex.quote(target.path)}/.venv/bin/python"
        self.ctl = f".venv/bin/supervisorctl -c {shlex.quote(target.supervisor_conf)}"

    def say(self, step: str, message: str) -> None:
        print(f"{self.label} {step}: {message}", flush=True)

    def run(self, command: str, step: str, *, check: bool = True) -> str:
        """Run in the checkout; on failure print the output and stop (or return "" when check=False)."""
        result = self.conn.run(f"cd {shlex.quote(self.target.path)} && {command}", hide=True, warn=True)
        if result.ok:
            return result.stdout.strip()
        if not check:
            return ""
        output = (result.stdout + result.stderr).strip().splitlines()[-25:]
        self.say(step, "FAILED\n    " + "\n    ".join(output))
        raise StepFailedError(step)

    def manage(self, args: str, step: str) -> str:
        return self.run(f"{self.env} {self.python} manage.py {args}", step)

    def revision(self, ref: str = "HEAD") -> str:
        return self.run(f"git rev-parse --verify --quiet {shlex.quote(ref + '^{commit}')}", "resolve")

    # --- steps -------------------------------------------------------------------
    def fetch(self, revision: str) -> tuple[str, str]:
        previous = self.revision()
        self.run("git fetch --quiet --prune origin", "fetch")
        wanted = self.revision(revision or f"origin/{self.target.branch}")
        self.say("fetch", f"{revision or 'origin/' + self.target.branch} is {wanted[:12]} (running {previous[:12]})")
        return previous, wanted

    def requirements(self, revision: str) -> None:
        stamp = f"{STATE}/requirements.sha256"
        want = self.run(f"git show {revision}:requirements.txt | sha256sum | cut -d' ' -f1", "requirements")
        have = self.run(f"cat {stamp} 2>/dev/null || true", "requirements")
        if want == have:
            self.say("requirements", "unchanged, not installing")
            return
        self.run(
            f"mkdir -p {STATE} && git show {revision}:requirements.txt > {STATE}/requirements.txt && "
            f".venv/bin/pip install --quiet --disable-pip-version-check -r {STATE}/requirements.txt && "
            f"echo {want} > {stamp}",
            "requirements",
        )
        self.say("requirements", "installed into .venv")

    def check(self, revision: str) -> None:
        """`manage.py check` of the new revision in a scratch worktree: nothing running is touched."""
        scratch = f"{STATE}/check"
        self.run(
            f"mkdir -p {STATE} && rm -rf {scratch} && git worktree prune && "
            f"git worktree add --quiet --detach {scratch} {revision} && mkdir -p {scratch}/logs && "
            f"(test ! -f .env || ln -s ../../../.env {scratch}/.env)",
            "check",
        )
        try:
            self.run(f"cd {scratch} && LOG_DIR=$PWD/logs {self.env} {self.python} manage.py check", "check")
        finally:
            self.run(f"rm -rf {scratch} && git worktree prune", "check", check=False)
        self.say("check", f"manage.py check passes on {revision[:12]} with {self.target.settings}")

    def checkout(self, revision: str) -> None:
        self.run(f"git checkout --quiet --detach {revision}", "checkout")
        self.say("checkout", f"now at {revision[:12]}")

    def schema(self) -> None:
        if self.target.name == "master":
            # The DBA applies the business schema: refuse to reload onto a lagging one.
            self.manage("schema_check --database default", "schema")
            self.say("schema", "production schema is up to date")
        self.manage("migrate_all --verbosity 0", "migrate")
        self.say("migrate", "databases the ORM manages are migrated")

    def collectstatic(self) -> None:
        self.manage("collectstatic --noinput --verbosity 0", "collectstatic")
        self.say("collectstatic", "done")

    def supervisor_pid(self) -> str:
        pid = self.run(f"{self.ctl} pid", "reload", check=False)
        return pid if pid.isdigit() else ""

    def reload(self) -> None:
        pid = self.supervisor_pid()
        if not pid:
            self.run(f"mkdir -p logs pids socks && .venv/bin/supervisord -c {self.target.supervisor_conf}", "reload")
            self.say("reload", "Supervisor was not running: started it")
            return
        # Apply a changed Supervisor config, start whatever stopped (FATAL after a
        # bad boot), then HUP: Gunicorn swaps its workers, RQ workers restart warm.
        self.run(f"{self.ctl} update", "reload", check=False)
        self.run(f"{self.ctl} start all", "reload", check=False)
        self.run(f"{self.ctl} signal HUP all", "reload")
        self.say("reload", f"signal HUP all sent (supervisord pid {pid})")

    def wait_ready(self, revision: str) -> bool:
        started = time.monotonic()
        result = self.conn.run(
            f"cd {shlex.quote(self.target.path)} && {self.python} deploy/wait_ready.py "
            f"--revision {revision} --timeout {self.target.ready_timeout:g}",
            hide=True,
            warn=True,
        )
        outcome = (result.stdout + result.stderr).strip()
        self.say("ready", f"{outcome} ({time.monotonic() - started:.1f}s)")
        return result.ok

    def record(self, previous: str, current: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {previous} {current}"
        self.run(f"mkdir -p {STATE} && echo {shlex.quote(line)} >> {STATE}/history", "record")

    def last_deploy(self) -> tuple[str, str]:
        line = self.run(f"tail -n 1 {STATE}/history 2>/dev/null || true", "rollback")
        if not line:
            raise Exit(f"{self.label} no deploy recorded in {STATE}/history: nothing to roll back to.", code=1)
        _, previous, current = line.split()
        return previous, current

    # --- the whole sequence ----------------------------------------------------------
    def release(self, previous: str, wanted: str, *, migrate: bool = True) -> None:
        """From check to ready; a failed wait rolls this host back and raises StepFailedError."""
        self.requirements(wanted)
        self.check(wanted)
        self.checkout(wanted)
        if migrate:
            self.schema()
        self.collectstatic()
        self.reload()
        if self.wait_ready(wanted):
            self.record(previous, wanted)
            return
        self.say("rollback", f"{wanted[:12]} did not become ready: back to {previous[:12]}")
        self.checkout(previous)
        self.collectstatic()
        self.reload()
        state = "serves it again" if self.wait_ready(previous) else "is NOT ready either: look at it now"
        self.say("rollback", f"host {state}")
        raise StepFailedError("ready")


def for_each_host(target: Target, action) -> None:
    """Rolling: one host at a time; the first failure stops the run."""
    count = len(target.hosts)
    for index, address in enumerate(target.hosts, start=1):
        host = Host(target, address, f"{index}/{count}")
        try:
            action(host)
        except StepFailedError as failure:
            untouched = ", ".join(target.hosts[index:]) or "none"
            raise Exit(f"{host.label} stopped at '{failure}'. Hosts not touched: {untouched}.", code=1) from None
        finally:
            host.conn.close()


def run_deploy(env: str, revision: str = "") -> None:
    target = load_target(env)

    def deploy_host(host: Host) -> None:
        previous, wanted = host.fetch(revision)
        host.release(previous, wanted)

    for_each_host(target, deploy_host)
    print(f"[{env}] deployed to {len(target.hosts)} host(s)")


def run_rollback(env: str) -> None:
    target = load_target(env)

    def rollback_host(host: Host) -> None:
        before, current = host.last_deploy()
        host.say("rollback", f"from {current[:12]} back to {before[:12]}")
        host.release(current, before, migrate=False)

    for_each_host(target, rollback_host)


def run_status(env: str) -> None:
    target = load_target(env)

    def status_host(host: Host) -> None:
        head = host.run("git log -1 --format='%H %cs %s'", "status")
        host.say("revision", head)
        programs = host.run(f"{host.ctl} status", "status", check=False) or "Supervisor is not running"
        print("    " + programs.replace("\n", "\n    "))

    for_each_host(target, status_host)


def run_backup(env: str) -> None:
    """mysqldump --single-transaction of the business database, gzipped, fetched to backups/<env>/."""
    target = load_target(env)
    host = Host(target, target.hosts[0], f"1/{len(target.hosts)}")
    name = f"{env}-{time.strftime('%Y%m%d-%H%M%S')}.sql.gz"
    remote = f"{STATE}/backups/{name}"
    local = Path(os.environ.get("DEPLOY_BACKUP_DIR", str(ROOT / "backups"))) / env / name
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        host.run(f"mkdir -p {STATE}/backups", "backup")
        host.run(f"{host.env} {host.python} deploy/dump_database.py --output {remote}", "backup")
        host.conn.get(f"{target.path}/{remote}", str(local))
        host.run(f"rm -f {remote}", "backup", check=False)
    except StepFailedError:
        raise Exit(f"{host.label} backup failed.", code=1) from None
    finally:
        host.conn.close()
    host.say("backup", f"{local} ({local.stat().st_size} bytes)")


@task(help={"env": "test or master", "revision": "a commit or ref to deploy (default: origin/<branch>)"})
def deploy(c, env="test", revision=""):
    """Deploy the branch (or --revision) to every host of the environment, one at a time."""
    run_deploy(env, revision)


@task(help={"env": "test or master"})
def status(c, env="test"):
    """Revision and Supervisor programs on each host."""
    run_status(env)


@task(help={"env": "test or master"})
def rollback(c, env="test"):
    """Put each host back on the revision it ran before its last deploy."""
    run_rollback(env)


@task(help={"env": "test or master"})
def backup(c, env="master"):
    """Dump the environment's business database (mysqldump --single-transaction) to backups/<env>/."""
    run_backup(env)


def _bound(action, env: str, doc: str):
    def body(c):
        action(env)

    body.__name__ = body.__qualname__ = f"{action.__name__}_{env}"
    body.__doc__ = doc
    return task(body)


ns = Collection(deploy, status, rollback, backup)
for _env in ENVIRONMENTS:
    ns.add_task(_bound(run_deploy, _env, f"Deploy origin/<branch> to {_env}, host by host."), name=f"deploy:{_env}")
    ns.add_task(_bound(run_status, _env, f"Revision and programs on each {_env} host."), name=f"status:{_env}")
    ns.add_task(_bound(run_rollback, _env, f"Roll {_env} back to the previous revision."), name=f"rollback:{_env}")
    ns.add_task(_bound(run_backup, _env, f"Dump {_env}'s database to backups/{_env}/."), name=f"backup:{_env}")
