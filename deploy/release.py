"""A host's releases: build one, check it, switch `current` to it, reload, list and prune.

Layout under the environment's path on every host:

    repo/                      a mirror of the repository (git clone --mirror), fetched by each deploy
    releases/<id>/             one revision's files (git archive), its REVISION, static/, .venv
    current -> releases/<id>   what Supervisor runs: programs start from this path, never a resolved one
    shared/                    what outlives releases: .env, logs/, pids/, socks/, var/, venvs/<lock hash>/

A release's .venv links to shared/venvs/<hash of requirements.lock and Python>: a
release whose lock is unchanged reuses the venv (a copied venv would break its
scripts' shebangs), and a rollback finds the old one still there.
"""

from __future__ import annotations

import hashlib
import shlex
import time
from dataclasses import dataclass

from deploy.remote import Remote

# Release entries that are links into shared/: they outlive every release.
LINKED = ("logs", "pids", "socks", "var", ".env")
WEB_PROGRAM = "gunicorn"


@dataclass(frozen=True)
class Release:
    id: str
    revision: str
    venv: str
    live: bool

    @property
    def created(self) -> str:
        stamp = self.id.split("-", 1)[0]
        try:
            return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.strptime(stamp, "%Y%m%d%H%M%S"))
        except ValueError:
            return "?"


def venv_name(lock_digest: str, python_version: str) -> str:
    """venvs/<hash>: one venv per lock file and Python (sys.version), shared by the releases that match."""
    return "venvs/" + hashlib.sha256(f"{lock_digest}\n{python_version}".encode()).hexdigest()[:16]


def new_release_id(revision: str) -> str:
    return f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{revision[:12]}"


class HostReleases:
    """The release operations of one host."""

    def __init__(self, remote: Remote):
        self.remote = remote
        self.target = remote.target
        self.path = remote.path

    def dir(self, release_id: str) -> str:
        return f"{self.path}/releases/{release_id}"

    @property
    def current(self) -> str:
        return f"{self.path}/current"

    def ctl(self, args: str) -> str:
        """supervisorctl through `current`, the path Supervisor was started from."""
        conf = shlex.quote(f"{self.current}/{self.target.supervisor_conf}")
        return f"{self.current}/.venv/bin/supervisorctl -c {conf} {args}"

    # --- building --------------------------------------------------------------
    def fetch(self, ref: str) -> str:
        """Fetch the mirror and resolve `ref` (a branch or a commit) to a full hash."""
        self.remote.run("git -C repo fetch --quiet --prune", "fetch")
        return self.remote.run(f"git -C repo rev-parse --verify --quiet {shlex.quote(ref + '^{commit}')}", "fetch")

    def build(self, release_id: str, revision: str) -> bool:
        """Unpack the revision into releases/<id> with its links and venv; True when the venv was reused."""
        folder = self.dir(release_id)
        links = " && ".join(f"ln -s ../../shared/{name} {folder}/{name}" for name in LINKED)
        self.remote.run(
            f"mkdir -p releases shared/venvs {' '.join(f'shared/{n}' for n in LINKED if n != '.env')} && "
            f"touch shared/.env && mkdir {folder} && "
            f"git -C repo archive --format=tar {revision} | tar -x -C {folder} && "
            f"echo {revision} > {folder}/REVISION && {links}",
            "build",
        )
        lock_digest = self.remote.run(f"sha256sum {folder}/requirements.lock | cut -d' ' -f1", "venv")
        python = shlex.quote(self.target.python)
        version = self.remote.run(f"{python} -c 'import sys; print(sys.version)'", "venv")
        venv = venv_name(lock_digest, version)
        reused = bool(self.remote.run(f"test -f shared/{venv}/.complete && echo yes", "venv", check=False))
        if reused:
            self.remote.say("venv", f"requirements.lock unchanged: reusing shared/{venv}")
        else:
            started = time.monotonic()
            tool = self.remote.run(f"{self.install_venv(venv, f'{folder}/requirements.lock')}", "venv")
            took = time.monotonic() - started
            self.remote.say("venv", f"built shared/{venv} from requirements.lock with {tool} ({took:.1f}s)")
        self.remote.run(f"ln -s ../../shared/{venv} {folder}/.venv", "venv")
        return reused

    def install_venv(self, venv: str, lock: str) -> str:
        """Shell that builds shared/<venv> from the lock, hashes checked, and prints the tool used.

        With the uv of the live release's venv (uv is in the lock) when there is one:
        it installs from its cache by hard links, several times faster than pip,
        which builds the first venv on a new host. --system-certs: the host's CA
        store, which is what pip trusts there too.
        """
        python = shlex.quote(self.target.python)
        uv = f"{self.current}/.venv/bin/uv"
        with_uv = (
            f"{uv} venv --quiet --python {python} shared/{venv} && "
            f"{uv} pip install --quiet --system-certs --python shared/{venv}/bin/python --require-hashes --no-deps "
            f"-r {lock} && "
            "echo uv"
        )
        with_pip = (
            f"{python} -m venv shared/{venv} && shared/{venv}/bin/pip install --quiet --disable-pip-version-check "
            f"--require-hashes --no-deps -r {lock} && echo pip"
        )
        return (
            f"rm -rf shared/{venv} && if [ -x {uv} ]; then {with_uv}; else {with_pip}; fi && "
            f"touch shared/{venv}/.complete"
        )

    def manage(self, release_id: str, args: str, step: str) -> str:
        folder = self.dir(release_id)
        settings = shlex.quote(self.target.settings)
        return self.remote.run(
            f"cd {folder} && DJANGO_SETTINGS_MODULE={settings} .venv/bin/python manage.py {args}", step
        )

    def select_roles(self, release_id: str) -> None:
        spec = self.remote.spec
        folder = self.dir(release_id)
        self.remote.run(
            f"{folder}/.venv/bin/python {folder}/deploy/select_roles.py --roles {','.join(spec.roles)} "
            f"--workers {spec.workers}",
            "roles",
        )
        self.remote.say("roles", f"Supervisor will run {spec.describe()}")

    def discard(self, release_id: str) -> None:
        """Remove a release that never went live (its venv stays for the next try)."""
        self.remote.run(f"rm -rf {self.dir(release_id)}", "discard", check=False)

    # --- going live --------------------------------------------------------------
    def live(self) -> str:
        """The id of the release `current` points at, "" before the first deploy."""
        target = self.remote.run("readlink current", "live", check=False)
        return target.rsplit("/", 1)[-1] if target else ""

    def venv_of(self, release_id: str) -> str:
        return self.remote.run(f"readlink {self.dir(release_id)}/.venv", "venv", check=False)

    def switch(self, release_id: str) -> None:
        """Atomic: a new link renamed over `current` (rename(2) replaces it in one step)."""
        self.remote.run(f"ln -sfn releases/{release_id} current.new && mv -T current.new current", "switch")
        self.remote.say("switch", f"current -> releases/{release_id}")

    def supervisor_running(self) -> bool:
        return self.remote.run(self.ctl("pid"), "reload", check=False).isdigit()

    def reload(self, *, venv_changed: bool) -> None:
        """Start Supervisor, or have its programs load the release `current` now points at."""
        conf = shlex.quote(f"{self.current}/{self.target.supervisor_conf}")
        if not self.supervisor_running():
            self.remote.run(f"cd {self.current} && {self.current}/.venv/bin/supervisord -c {conf}", "reload")
            self.remote.say("reload", "Supervisor was not running: started it")
            return
        # Programs added or dropped by a change of roles; unchanged ones are left alone.
        self.remote.run(self.ctl("update"), "reload", check=False)
        names = [line.split()[0] for line in self.remote.run(self.ctl("status"), "reload", check=False).splitlines()]
        web = [name for name in names if name.rpartition(":")[2] == WEB_PROGRAM]
        others = [name for name in names if name not in web]
        if web:
            self.reload_web(web[0], venv_changed=venv_changed)
        if others:
            # RQ workers finish their job and exit; Supervisor starts them again from `current`.
            self.remote.run(self.ctl("signal HUP " + " ".join(others)), "reload")
            self.remote.say("reload", f"signal HUP to {len(others)} worker/scheduler program(s)")
        # Anything a bad earlier release left FATAL.
        self.remote.run(self.ctl("start all"), "reload", check=False)

    def reload_web(self, program: str, *, venv_changed: bool) -> None:
        """HUP for new code; USR2 for a new venv or Python (corelib/gunicorn_arbiter.py).

        HUP'd workers fork from the running master, so they import the code
        through `current` but keep the master's interpreter and sys.path: a new
        venv needs the master re-exec'd in place (same PID, same sockets).
        """
        signal = "USR2" if venv_changed else "HUP"
        self.remote.run(self.ctl(f"signal {signal} {program}"), "reload")
        why = "new venv: the master re-execs in place" if venv_changed else "code only"
        self.remote.say("reload", f"signal {signal} {program} ({why})")

    def wait_ready(self, release_id: str, revision: str) -> bool:
        """Web: /api/ready with the revision. Every host: all programs RUNNING from this release."""
        started = time.monotonic()
        python = f"{self.current}/.venv/bin/python"
        timeout = f"{self.target.ready_timeout:g}"
        checks = [
            f"{python} {self.current}/deploy/wait_programs.py --conf {self.current}/{self.target.supervisor_conf} "
            f"--release {self.dir(release_id)} --timeout {self.target.workers_timeout:g}"
        ]
        if "web" in self.remote.spec.roles:
            checks.insert(0, f"{python} {self.current}/deploy/wait_ready.py --revision {revision} --timeout {timeout}")
        for check in checks:
            result = self.remote.conn.run(f"cd {self.current} && {check}", hide=True, warn=True, in_stream=False)
            outcome = (result.stdout + result.stderr).strip()
            self.remote.say("ready", f"{outcome} ({time.monotonic() - started:.1f}s)")
            if not result.ok:
                return False
        return True

    # --- looking back --------------------------------------------------------------
    def releases(self) -> list[Release]:
        """Oldest first (ids start with their UTC timestamp)."""
        live = self.live()
        listing = self.remote.run(
            'for d in releases/*/; do [ -d "$d" ] || continue; d=${d%/}; '
            'echo "${d#releases/} $(cat $d/REVISION 2>/dev/null || echo ?) $(readlink $d/.venv || echo ?)"; done',
            "releases",
            check=False,
        )
        found = []
        for line in sorted(listing.splitlines()):
            release_id, revision, venv = line.split()
            found.append(Release(release_id, revision, venv.rsplit("/", 1)[-1], release_id == live))
        return found

    def prune(self, keep: int) -> None:
        """Keep the newest `keep` releases (and the live one) and the venvs they use."""
        releases = self.releases()
        old = [release.id for release in releases[:-keep] if not release.live]
        kept_venvs = {release.venv for release in releases if release.id not in old}
        if old:
            self.remote.run("rm -rf " + " ".join(f"releases/{release_id}" for release_id in old), "prune")
        venvs = self.remote.run("ls shared/venvs", "prune", check=False).split()
        unused = [venv for venv in venvs if venv not in kept_venvs]
        if unused:
            self.remote.run("rm -rf " + " ".join(f"shared/venvs/{venv}" for venv in unused), "prune")
        if old or unused:
            self.remote.say("prune", f"removed {len(old)} old release(s) and {len(unused)} unused venv(s)")
