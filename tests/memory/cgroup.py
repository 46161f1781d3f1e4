"""A memory cgroup under this process's own, for confining a stack to a memory limit.

cgroup v2 (`memory.max`, `memory.events`, `memory.peak`) where the memory
controller is on the unified hierarchy, else cgroup v1's memory hierarchy
(`memory.limit_in_bytes`, `memory.oom_control`, `memory.max_usage_in_bytes`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class CgroupUnavailableError(Exception):
    pass


def _own_path(controller: str) -> tuple[Path, bool]:
    """(directory of this process's cgroup for `controller`, is it v2)."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return ROOT / controller / path.lstrip("/"), False
    unified = ROOT / "cgroup.controllers"
    if unified.exists() and controller in unified.read_text().split():
        for line in lines:
            if line.startswith("0::"):
                return ROOT / line[3:].lstrip("/"), True
    raise CgroupUnavailableError(f"no {controller} controller in /proc/self/cgroup")


class MemoryCgroup:
    def __init__(self, path: Path, v2: bool):
        self.path = path
        self.v2 = v2

    @classmethod
    def create(cls, limit_bytes: int) -> MemoryCgroup:
        parent, v2 = _own_path("memory")
        path = parent / f"miniprogram-test-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
            group = cls(path, v2)
            if v2:
                (path / "memory.max").write_text(str(limit_bytes))
                (path / "memory.swap.max").write_text("0")
            else:
                (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
        except OSError as error:
            if path.exists():
                path.rmdir()
            raise CgroupUnavailableError(f"cannot create a memory cgroup under {parent}: {error}") from error
        return group

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def members(self) -> list[int]:
        return [int(pid) for pid in self.procs_file.read_text().split()]

    def _counter(self, filename: str, key: str) -> int:
        for line in (self.path / filename).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
        return 0

    def oom_kills(self) -> int:
        return self._counter("memory.events" if self.v2 else "memory.oom_control", "oom_kill")

    def peak_bytes(self) -> int | None:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        peak = self.path / name
        return int(peak.read_text()) if peak.exists() else None

    def remove(self, timeout: float = 60) -> None:
        """Remove the group once its processes are gone."""
        deadline = time.monotonic() + timeout
        while self.members() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.path.rmdir()
