"""`manage.py run_scheduler`: rq-scheduler with the schedules declared in code.

Registers corelib.scheduler's schedules (idempotently), then moves due jobs
into their queues every SCHEDULER_INTERVAL seconds. HUP (Supervisor's reload),
TERM and INT end it cleanly with exit status 0.
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django_rq import get_connection

from corelib.scheduler import GracefulScheduler, register_schedules


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=None, help="seconds between passes")
        parser.add_argument("--burst", action="store_true", help="one pass, then exit")

    def handle(self, *args, **options):
        interval = options["interval"] or settings.SCHEDULER_INTERVAL
        connection = get_connection("default")
        scheduler = GracefulScheduler(queue_name="default", interval=interval, connection=connection)
        # Before anything else: a reload's HUP during registration must not kill the process.
        scheduler._install_signal_handlers()
        register_schedules(scheduler)
        scheduler.run(burst=options["burst"])
