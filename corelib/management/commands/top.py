"""`manage.py top`: a live view of the running stack, refreshed every --interval seconds (Ctrl-C ends it).

Per Gunicorn worker: pid, requests/s, requests, in flight, RSS, age, database
slots in use. Per queue: waiting, started, failed, finished/s, scheduled. RQ
workers busy and idle, and whether the scheduler runs. Run it with the
settings module and GUNICORN_BIND of the stack to watch (corelib.top).
"""

import sys
import time

from django.core.management.base import BaseCommand

from corelib.top import add_rates, render, take_frame

CLEAR = "\x1b[H\x1b[2J"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between frames")
        parser.add_argument("--iterations", type=int, default=0, help="frames to show, then exit (0: until Ctrl-C)")

    def handle(self, *args, **options):
        clear = CLEAR if sys.stdout.isatty() else ""
        previous = None
        shown = 0
        try:
            while True:
                frame = add_rates(take_frame(), previous)
                self.stdout.write(clear + render(frame) + ("" if clear else "\n"))
                shown += 1
                if options["iterations"] and shown >= options["iterations"]:
                    return
                previous = frame
                time.sleep(options["interval"])
        except KeyboardInterrupt:
            return
