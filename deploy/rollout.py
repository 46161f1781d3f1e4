"""A deploy or a rollback over every host of an environment.

Deploy, under the environment's lock:
1. On every host, build the release and preflight it (venv, check, schema,
   migrations, collectstatic, sync_miniprograms, roles). Nothing live changes
   here, so a failure anywhere - the second host as much as the first -
   discards the release everywhere and leaves every host as it was: no host
   ever serves a revision another host refused.
2. Host by host, web hosts first, then workers, the scheduler's host last:
   switch `current`, reload, wait until it serves the new release. If a host
   does not, every host switched in this run goes back to its previous release
   (switch, reload, wait) and the run fails.
3. Keep the newest `keep_releases` on each host.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from invoke import Exit

from deploy.config import Target, load_target
from deploy.lock import DeployLock, break_lock
from deploy.release import HostReleases, new_release_id
from deploy.remote import Remote, StepFailedError


@contextmanager
def connected(target: Target):
    """One HostReleases per host, in rollout order; connections closed at the end."""
    order = target.rollout_order
    remotes = [Remote(target, spec, f"{index}/{len(order)}") for index, spec in enumerate(order, start=1)]
    try:
        yield [HostReleases(remote) for remote in remotes]
    finally:
        for remote in remotes:
            remote.close()


@contextmanager
def locked(target: Target, hosts: list[HostReleases], what: str):
    """The environment's deploy lock, on the first host of the config."""
    first = next(host for host in hosts if host.remote.spec == target.hosts[0])
    lock = DeployLock(first.remote, what)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def preflight(host: HostReleases, release_id: str, *, first: bool) -> None:
    """Everything that can fail, run in the new release before anything live changes."""
    target = host.target
    if target.check_deploy:
        host.manage(release_id, "check --deploy --fail-level WARNING", "check")
    else:
        host.manage(release_id, "check", "check")
    host.remote.say("check", f"manage.py check{' --deploy' if target.check_deploy else ''} passes")
    if target.dba_schema:
        check_business_schema(host, release_id)
    if first:  # database-wide steps: once per deploy
        host.manage(release_id, "migrate_all --verbosity 0", "migrate")
        host.remote.say("migrate", "the databases the ORM manages are migrated")
        synced = host.manage(release_id, "sync_miniprograms", "sync_miniprograms")
        host.remote.say("sync_miniprograms", synced.replace("\n", "; ") or "done")
    host.manage(release_id, "collectstatic --noinput --verbosity 0", "collectstatic")
    host.select_roles(release_id)
    host.remote.say("preflight", f"release {release_id} is ready to go live")


def check_business_schema(host: HostReleases, release_id: str) -> None:
    """Where a DBA owns the schema: stop before any switch, with the SQL the DBA must apply."""
    try:
        host.manage(release_id, "schema_check --database default", "schema")
    except StepFailedError:
        sql = f"{host.path}/shared/var/schema/pending-{release_id}.sql"
        host.remote.run(f"mkdir -p {host.path}/shared/var/schema", "schema")
        host.manage(release_id, f"schema_sql > {sql}", "schema")
        host.remote.say(
            "schema",
            f"the business schema lags this release. For the DBA: review {sql} on {host.remote.spec.address} "
            "(written by the new release's `manage.py schema_sql`: each migration's SQL and the row recording it), "
            "apply it in order with `mysql -h HOST -u USER -p DATABASE < pending.sql`, "
            f"then run `fab deploy:{host.target.name}` again.",
        )
        raise
    host.remote.say("schema", "the business schema is up to date")


def go_live(host: HostReleases, release_id: str, revision: str, previous: str) -> bool:
    """Switch, reload, wait; False when the host did not come up on the release."""
    venv_changed = bool(previous) and host.venv_of(release_id) != host.venv_of(previous)
    try:
        host.switch(release_id)
        host.reload(venv_changed=venv_changed)
    except StepFailedError:
        return False
    return host.wait_ready(release_id, revision)


def switch_back(switched: list[tuple[HostReleases, str]], failed_release: str) -> list[str]:
    """Every switched host back to its previous release, last switched first; returns the hosts still broken."""
    broken = []
    for host, previous in reversed(switched):
        if not previous:
            host.remote.say("switch back", "first deploy on this host: there is no previous release")
            broken.append(host.remote.spec.address)
            continue
        host.remote.say("switch back", f"to releases/{previous}")
        revision = host.remote.run(f"cat releases/{previous}/REVISION", "switch back")
        if not go_live(host, previous, revision, failed_release):
            host.remote.say("switch back", "the previous release is NOT ready either: look at this host now")
            broken.append(host.remote.spec.address)
    return broken


def run_deploy(env: str, ref: str = "") -> None:
    target = load_target(env)
    started = time.monotonic()
    with connected(target) as hosts, locked(target, hosts, f"deploy:{ref or target.branch}"):
        try:
            revision = hosts[0].fetch(ref or target.branch)
        except StepFailedError:
            raise Exit(f"[{env}] cannot resolve '{ref or target.branch}' in the repository.", code=1) from None
        release_id = new_release_id(revision)
        print(f"[{env}] deploying {revision[:12]} as {release_id} to {len(hosts)} host(s)", flush=True)
        built: list[HostReleases] = []
        for index, host in enumerate(hosts):
            try:
                if index:
                    host.fetch(revision)
                built.append(host)
                host.build(release_id, revision)
                preflight(host, release_id, first=index == 0)
            except StepFailedError as failure:
                for each in built:
                    each.discard(release_id)
                raise Exit(
                    f"[{env}] preflight failed at {failure}: nothing was switched on any host; "
                    f"release {release_id} discarded on {len(built)} host(s).",
                    code=1,
                ) from None
        switched: list[tuple[HostReleases, str]] = []
        for host in hosts:
            previous = host.live()
            switched.append((host, previous))
            if go_live(host, release_id, revision, previous):
                continue
            broken = switch_back(switched, release_id)
            for each in hosts:
                each.discard(release_id)
            state = f"hosts NOT back: {', '.join(broken)}" if broken else "every switched host is back"
            raise Exit(
                f"[{env}] {host.remote.spec.address} did not become ready on {release_id}: "
                f"switched {len(switched)} host(s) back ({state}).",
                code=1,
            )
        for host in hosts:
            host.prune(target.keep_releases)
        print(f"[{env}] {release_id} is live on {len(hosts)} host(s) ({time.monotonic() - started:.1f}s)")


def run_rollback(env: str) -> None:
    """Every host back to the release before its live one: a switch and a reload, no build."""
    target = load_target(env)
    started = time.monotonic()
    with connected(target) as hosts, locked(target, hosts, "rollback"):
        plan = []
        for host in hosts:
            releases = host.releases()
            live = [index for index, release in enumerate(releases) if release.live]
            if not live or live[0] == 0:
                raise Exit(f"{host.remote.label} no release before the live one: nothing to roll back to.", code=1)
            plan.append((host, releases[live[0]], releases[live[0] - 1]))
        for host, current, previous in plan:
            host.remote.say("rollback", f"from {current.id} back to {previous.id}")
            if not go_live(host, previous.id, previous.revision, current.id):
                raise Exit(f"{host.remote.label} did not become ready on {previous.id}: look at it now.", code=1)
        print(f"[{env}] rolled back on {len(plan)} host(s) ({time.monotonic() - started:.1f}s)")


def run_releases(env: str) -> None:
    target = load_target(env)
    with connected(target) as hosts:
        for host in hosts:
            host.remote.say("releases", host.remote.spec.describe())
            for release in host.releases():
                marker = "*" if release.live else " "
                print(f"  {marker} {release.id}  {release.revision}  {release.created}  venv {release.venv}")


def run_status(env: str) -> None:
    target = load_target(env)
    with connected(target) as hosts:
        for host in hosts:
            live = host.live() or "none"
            host.remote.say("live", f"{live} ({host.remote.spec.describe()})")
            programs = host.remote.run(host.ctl("status"), "status", check=False) or "Supervisor is not running"
            print("    " + programs.replace("\n", "\n    "))


def run_unlock(env: str) -> None:
    target = load_target(env)
    with connected(target) as hosts:
        first = next(host for host in hosts if host.remote.spec == target.hosts[0])
        held = break_lock(first.remote)
        first.remote.say("unlock", f"removed the lock of {held}" if held else "there was no lock")
