#!/usr/bin/env python
"""Django's command-line utility. Defaults to the debug settings."""

import os
import sys

from corelib.hangup import LONG_RUNNING_COMMANDS, defer_hangup
from corelib.worker_process import lighten_worker_start


def main() -> None:
    argv = sys.argv
    if len(argv) > 1 and argv[1] in LONG_RUNNING_COMMANDS:
        defer_hangup()  # before Django: a reload's HUP must not kill a worker that is still starting
        argv = lighten_worker_start(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_debug")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
