"""`manage.py run_scheduler`: rq-scheduler with the schedules declared in code.

Registers corelib.scheduler's schedules (idempotently), then moves due jobs
into their queues every SCHEDULER_INTERVAL seconds. HUP (Supervisor's reload),
TERM and INT end it cleanly with exit status 0. `--unregister` removes every
declared schedule from Redis and exits (`make run` does it on a shared Redis).
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django_rq import get_connection

from corelib.hangup import accept_hangup, finish_exit
from corelib.scheduler import GracefulScheduler, register_schedules


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=None, help="seconds between passes")
        parser.add_argument("--burst", action="store_true", help="one pass, then exit")
        parser.add_argument("--unregister", action="store_true", help="remove the schedules from Redis and exit")

    def handle(self, *args, **options):
        interval = options["interval"] or settings.SCHEDULER_INTERVAL
        connection = get_connection("default")
        scheduler = GracefulScheduler(queue_name="default", interval=interval, connection=connection)
        if options["unregister"]:
            register_schedules(scheduler, schedules=[])
            return
        # Before anything else: a reload's HUP during registration must not kill the process.
        scheduler._install_signal_handlers()
        accept_hangup()  # a HUP held since manage.py started lands here
        if not scheduler.ride_out_redis_outage():  # stopped while Redis was still down
            finish_exit()  # not through Python's shutdown, where a further HUP would kill the process
            return
        register_schedules(scheduler)
        scheduler.run(burst=options["burst"])
