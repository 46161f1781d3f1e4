"""Deploys with Fabric 3, typed as the service always has been.

    fab deploy:test | fab deploy:master       (or: fab deploy --env test [--revision SHA])
    fab rollback:test | fab releases:test | fab status:test | fab unlock:test | fab backup:master

Fabric 3 has no `task:arg` syntax, so each environment's variant is registered
in the collection under that literal name ("deploy:test").

Hosts and their roles come from deploy/environments.toml; what a deploy does
is in deploy/rollout.py (releases in deploy/release.py, the lock in
deploy/lock.py). Secrets stay in each host's shared/.env.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from invoke import Collection, Exit, task

from deploy.config import load_target
from deploy.remote import Remote, StepFailedError
from deploy.rollout import run_deploy, run_releases, run_rollback, run_status, run_unlock

ROOT = Path(__file__).resolve().parent
ENVIRONMENTS = ("test", "master")


def run_backup(env: str) -> None:
    """mysqldump --single-transaction of the business database, secrets blanked, fetched to backups/<env>/."""
    target = load_target(env)
    host = Remote(target, target.hosts[0], f"1/{len(target.hosts)}")
    name = f"{env}-{time.strftime('%Y%m%d-%H%M%S')}.sql.gz"
    remote = f"{target.path}/shared/var/backups/{name}"
    local = Path(os.environ.get("DEPLOY_BACKUP_DIR", str(ROOT / "backups"))) / env / name
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        said = host.run(
            f"cd current && DJANGO_SETTINGS_MODULE={target.settings} .venv/bin/python deploy/dump_database.py "
            f"--output {remote}",
            "backup",
        )
        host.conn.get(remote, str(local))
        host.run(f"rm -f {remote}", "backup", check=False)
    except StepFailedError:
        raise Exit(f"{host.label} backup failed.", code=1) from None
    finally:
        host.close()
    host.say("backup", f"{local} ({local.stat().st_size} bytes); {said.partition('; ')[2]}")


@task(help={"env": "test or master", "revision": "a commit or branch to deploy (default: the environment's branch)"})
def deploy(c, env="test", revision=""):
    """Build and check the release on every host, then switch them: web, workers, scheduler."""
    run_deploy(env, revision)


@task(help={"env": "test or master"})
def rollback(c, env="test"):
    """Switch every host back to the release before its live one (no rebuild)."""
    run_rollback(env)


@task(help={"env": "test or master"})
def releases(c, env="test"):
    """Each host's releases: revision, date, venv, and which is live (*)."""
    run_releases(env)


@task(help={"env": "test or master"})
def status(c, env="test"):
    """Live release and Supervisor programs on each host."""
    run_status(env)


@task(help={"env": "test or master"})
def unlock(c, env="test"):
    """Break the environment's deploy lock (only when the deploy holding it is dead)."""
    run_unlock(env)


@task(help={"env": "test or master"})
def backup(c, env="master"):
    """Dump the business database to backups/<env>/, session keys and app secrets left out."""
    run_backup(env)


def _bound(action, env: str, doc: str):
    def body(c):
        action(env)

    body.__name__ = body.__qualname__ = f"{action.__name__}_{env}"
    body.__doc__ = doc
    return task(body)


ns = Collection(deploy, rollback, releases, status, unlock, backup)
for _env in ENVIRONMENTS:
    for _action, _doc in (
        (run_deploy, f"Deploy the branch to {_env}: build and check everywhere, then switch host by host."),
        (run_rollback, f"Switch every {_env} host back to its previous release."),
        (run_releases, f"List the releases on each {_env} host."),
        (run_status, f"Live release and programs on each {_env} host."),
        (run_unlock, f"Break {_env}'s deploy lock."),
        (run_backup, f"Dump {_env}'s business database to backups/{_env}/ (no secrets)."),
    ):
        ns.add_task(_bound(_action, _env, _doc), name=f"{_action.__name__.removeprefix('run_')}:{_env}")
