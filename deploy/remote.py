"""Commands on one host over SSH, with a line of progress per step."""

from __future__ import annotations

import shlex

from fabric import Connection

from deploy.config import HostSpec, Target


class StepFailedError(Exception):
    """A step failed on a host; its output has been printed. str() names the step and the host."""


class Remote:
    """One host of an environment, commands run from its deploy path."""

    def __init__(self, target: Target, spec: HostSpec, position: str):
        self.target = target
        self.spec = spec
        self.label = f"[{target.name} {position} {spec.address}]"
        kwargs = {"key_filename": target.key} if target.key else {}
        self.conn = Connection(
            spec.address, user=target.user, port=spec.port, connect_kwargs=kwargs, connect_timeout=15
        )
        self.path = spec.path or target.path

    def say(self, step: str, message: str) -> None:
        print(f"{self.label} {step}: {message}", flush=True)

    def run(self, command: str, step: str, *, check: bool = True, quiet: bool = False) -> str:
        """Run from the deploy path; on failure print the output and raise (or return "" when check=False)."""
        result = self.conn.run(f"cd {shlex.quote(self.path)} && {command}", hide=True, warn=True, in_stream=False)
        if result.ok:
            return result.stdout.strip()
        if not check:
            return ""
        if not quiet:
            output = (result.stdout + result.stderr).strip().splitlines()[-25:]
            self.say(step, "FAILED\n    " + "\n    ".join(output))
        raise StepFailedError(f"'{step}' on {self.spec.address}")

    def close(self) -> None:
        self.conn.close()
