"""Render deploy/nginx.conf.template: `{{name}}` placeholders from the options, to stdout."""

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="80", help='port or "address:port"')
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--upstream", default="127.0.0.1:8000", help="Gunicorn's GUNICORN_BIND")
    parser.add_argument("--static-root", required=True, help="the checkout's STATIC_ROOT (static/)")
    args = parser.parse_args()
    values = {
        "listen": args.listen,
        "server_name": args.server_name,
        "upstream": args.upstream,
        "static_root": args.static_root.rstrip("/"),
    }
    sys.stdout.write(render(TEMPLATE.read_text(), values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
