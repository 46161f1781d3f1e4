"""Where each environment runs and what each host does: deploy/environments.toml.

Read on the operator's machine by fabfile.py. Scalar keys can be overridden
from the environment as DEPLOY_<ENV>_<KEY>; DEPLOY_CONFIG names another file
(the deploy tests use one of their own).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("web", "worker", "scheduler")


@dataclass(frozen=True)
class HostSpec:
    """One host: its address and the roles Supervisor runs there."""

    address: str
    port: int
    roles: tuple[str, ...]
    workers: int = 0  # RQ worker processes, with the worker role
    path: str = ""  # the environment's path unless this host has its own

    @property
    def phase(self) -> tuple[bool, bool]:
        """Deploy order: web hosts first, then worker hosts, the scheduler's host last."""
        return ("scheduler" in self.roles, "web" not in self.roles)

    def describe(self) -> str:
        roles = [f"worker×{self.workers}" if role == "worker" else role for role in self.roles]
        return f"{self.address}:{self.port} ({'+'.join(roles)})"


@dataclass
class Target:
    """One environment's deploy settings, after environment overrides."""

    name: str
    hosts: list[HostSpec]
    user: str
    key: str
    path: str
    branch: str
    settings: str
    supervisor_conf: str
    python: str
    ready_timeout: float
    # RQ workers restart when their job ends: up to the longest job timeout (600 s).
    workers_timeout: float
    keep_releases: int
    lock_timeout: float
    # A DBA owns the business schema here: schema_check instead of migrating it.
    dba_schema: bool = False
    # `manage.py check --deploy`, warnings included, instead of `check`.
    check_deploy: bool = False

    @property
    def rollout_order(self) -> list[HostSpec]:
        return sorted(self.hosts, key=lambda host: host.phase)


def config_path() -> Path:
    return Path(os.environ.get("DEPLOY_CONFIG", str(ROOT / "deploy" / "environments.toml")))


def _host(entry: dict, default_port: int, where: str) -> HostSpec:
    """One `hosts` entry: address, roles, and optionally workers, port, path."""
    address = entry.get("address")
    if not address:
        raise Exit(f"{where}: every host needs an address.", code=2)
    roles = tuple(entry.get("roles", ()))
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise Exit(f"{where}: host {address} has roles {list(roles)}; each must be one of {', '.join(ROLES)}.", code=2)
    workers = int(entry.get("workers", 10 if "worker" in roles else 0))
    if "worker" in roles and workers < 1:
        raise Exit(f"{where}: host {address} has the worker role but workers = {workers}.", code=2)
    ordered = tuple(role for role in ROLES if role in roles)
    port = int(entry.get("port", default_port))
    return HostSpec(address, port, ordered, workers if "worker" in roles else 0, entry.get("path", "").rstrip("/"))


def check_roles(name: str, hosts: list[HostSpec], where: str) -> None:
    """Exactly one scheduler (two would enqueue every periodic job twice), at least one web host."""
    schedulers = [host.address for host in hosts if "scheduler" in host.roles]
    if len(schedulers) != 1:
        found = ", ".join(schedulers) or "none"
        raise Exit(f"{where}: '{name}' needs exactly one host with the scheduler role (found: {found}).", code=2)
    if not any("web" in host.roles for host in hosts):
        raise Exit(f"{where}: '{name}' has no host with the web role.", code=2)


def _flag(raw) -> bool:
    return str(raw).lower() in ("1", "true", "yes")


def load_target(name: str) -> Target:
    path = config_path()
    sections = tomllib.loads(path.read_text())
    if name not in sections:
        raise Exit(f"No environment '{name}' in {path} (known: {', '.join(sections)}).", code=2)
    section = sections[name]

    def value(key: str, default=None):
        return os.environ.get(f"DEPLOY_{name.upper()}_{key.upper()}", section.get(key, default))

    where = f"{path} [{name}]"
    port = int(value("port", 22))
    hosts = [_host(entry, port, where) for entry in section.get("hosts", [])]
    if not hosts:
        raise Exit(f"{where}: no hosts.", code=2)
    check_roles(name, hosts, where)
    return Target(
        name=name,
        hosts=hosts,
        user=value("user"),
        key=os.path.expanduser(value("key", "") or ""),
        path=value("path").rstrip("/"),
        branch=value("branch", "main"),
        settings=value("settings"),
        supervisor_conf=value("supervisor_conf"),
        python=value("python", "python3.11"),
        ready_timeout=float(value("ready_timeout", 90)),
        workers_timeout=float(value("workers_timeout", 660)),
        keep_releases=max(2, int(value("keep_releases", 5))),
        lock_timeout=float(value("lock_timeout", 3600)),
        dba_schema=_flag(value("dba_schema", False)),
        check_deploy=_flag(value("check_deploy", False)),
    )
