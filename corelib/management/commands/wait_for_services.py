"""Wait until every database alias and Redis answer (a deploy or container start waits on this)."""

import time

from django.core.management import BaseCommand, CommandError

from corelib.health import failing_components


class Command(BaseCommand):
    help = "Wait until MySQL and Redis answer, or fail after --timeout seconds."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60.0)
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, timeout, interval, **options):
        deadline = time.monotonic() + timeout
        while True:
            failures = failing_components()
            if not failures:
                self.stdout.write("All services answer.")
                return
            if time.monotonic() >= deadline:
                details = "; ".join(f"{name}: {reason}" for name, reason in sorted(failures.items()))
                raise CommandError(f"Gave up after {timeout:g}s waiting for: {details}")
            self.stdout.write("Waiting for: " + ", ".join(sorted(failures)))
            time.sleep(interval)
