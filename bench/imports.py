"""What each kind of process imports: `python -X importtime`, summed per top-level package.

    python -m bench.imports [--kind web|rqworker|rqscheduler] [--all]

Runs a web worker's start-up (gevent patch, the WSGI app, the URLconf, as
gunicorn.conf.py's post_worker_init does), `manage.py rqworker --burst` and
`manage.py run_scheduler --burst` against a run's own databases and Redis
index, and lists per top-level package the modules imported and their import
time. Packages a kind of process has no use for are marked.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import uuid
from collections import defaultdict
from pathlib import Path

from bench import fixture

ROOT = Path(__file__).resolve().parent.parent
WEB_WORKER = (
    "from gevent import monkey; monkey.patch_all();"
    "import corelib.gunicorn_worker;"
    "from project.wsgi import application;"
    "from django.urls import get_resolver; get_resolver().url_patterns"
)
KINDS = {
    "web": ["-c", WEB_WORKER],
    "rqworker": ["manage.py", "rqworker", "--burst", "high", "default", "low"],
    "rqscheduler": ["manage.py", "run_scheduler", "--burst"],
}
# An import of a module marked absent (sys.modules[name] = None) fails in this many µs or fewer.
ABSENT_MAX_US = 30
# Modules a kind of process never runs: (module prefix, why).
UNUSED = {
    "rqworker": [
        ("django.contrib.admin", "the admin site: only the web serves it"),
        ("ninja", "django-ninja: the API's routers, only the web serves them"),
        ("pydantic", "the API's schemas (through django-ninja)"),
        ("project.urls", "the URLconf (loaded by the system checks)"),
        ("project.api", "the API's routers"),
        ("gevent", "no greenlet runs in an RQ worker"),
        ("django.contrib.messages", "cookie pages only"),
        ("django.template", "no job renders a template"),
    ],
}
UNUSED["rqscheduler"] = UNUSED["rqworker"]
UNUSED["web"] = [("rq_scheduler", "the scheduler's loop"), ("croniter", "the scheduler's cron strings")]


def parse(stderr: str) -> dict[str, tuple[int, int]]:
    """Top-level package -> (modules imported, self time in µs)."""
    packages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _cumulative, name = line[len("import time:") :].split("|", 2)
        entry = packages[name.strip().split(".")[0]]
        entry[0] += 1
        entry[1] += int(own.strip())
    return {name: (count, micros) for name, (count, micros) in packages.items()}


def modules(stderr: str) -> set[str]:
    """Modules really loaded: a name marked absent in sys.modules (None) still prints a line of a few µs."""
    loaded = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _own, cumulative, name = line[len("import time:") :].split("|", 2)
            if int(cumulative.strip()) > ABSENT_MAX_US:
                loaded.add(name.strip())
    return loaded


def run_kind(kind: str, env: dict) -> str:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *KINDS[kind]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out.stderr


def report(kind: str, stderr: str, show_all: bool) -> str:
    packages = parse(stderr)
    names = modules(stderr)
    total_modules = sum(count for count, _ in packages.values())
    total_ms = sum(micros for _, micros in packages.values()) / 1000
    lines = [f"== {kind}: {total_modules} modules, {total_ms:.0f} ms of import time"]
    ranked = sorted(packages.items(), key=lambda item: -item[1][1])
    for name, (count, micros) in ranked if show_all else ranked[:20]:
        lines.append(f"  {name:<28} {count:>5} modules {micros / 1000:>8.1f} ms")
    for prefix, why in UNUSED.get(kind, []):
        hits = sorted(name for name in names if name == prefix or name.startswith(prefix + "."))
        if hits:
            lines.append(f"  UNUSED {prefix}: {len(hits)} modules ({why})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=KINDS, action="append")
    parser.add_argument("--all", action="store_true", help="every package, not the top 20")
    args = parser.parse_args(argv)
    fixture.exit_cleanly_on_signals()
    run_dir = fixture.new_run_dir()
    (run_dir / "logs").mkdir()
    data = fixture.BenchData(uuid.uuid4().hex[:8], run_dir)
    try:
        data.create("tiny")
        for kind in args.kind or list(KINDS):
            print(report(kind, run_kind(kind, data.env()), args.all), flush=True)
    finally:
        data.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
