"""Render deploy/nginx.conf.template: `{{name}}` placeholders from the options, to stdout.

`--upstream` may be given once per web host: the template's `server {{upstream}}`
line is repeated for each, and nginx spreads requests over them (and retries a
refused connection on the next one).
"""

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"


def render(template: str, values: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise SystemExit(f"no value for {{{{{name}}}}} in {TEMPLATE.name}")
        return values[name]

    return re.sub(r"\{\{(\w+)\}\}", replace, template)


def one_server_line_per_upstream(template: str, upstreams: list[str]) -> str:
    lines = []
    for line in template.splitlines(keepends=True):
        if "{{upstream}}" in line:
            lines.extend(line.replace("{{upstream}}", upstream) for upstream in upstreams)
        else:
            lines.append(line)
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="80", help='port or "address:port"')
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--upstream", action="append", help="Gunicorn's GUNICORN_BIND (repeat per web host)")
    parser.add_argument("--static-root", required=True, help="the checkout's STATIC_ROOT (static/)")
    args = parser.parse_args()
    values = {
        "listen": args.listen,
        "server_name": args.server_name,
        "static_root": args.static_root.rstrip("/"),
    }
    template = one_server_line_per_upstream(TEMPLATE.read_text(), args.upstream or ["127.0.0.1:8000"])
    sys.stdout.write(render(template, values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
