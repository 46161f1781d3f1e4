"""`manage.py rqworker_forkserver SOCKET QUEUE...`: the parent the RQ workers are forked from.

Supervisor's `rqworker_NN` programs (corelib.rq_relay) each ask it for one
worker on the queues named here; corelib.rq_forkserver says why and how.
"""

from django.core.management.base import BaseCommand

from corelib.rq_forkserver import ForkServer, listening_socket, preload


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("socket", help="unix socket path the relays connect to")
        parser.add_argument("queues", nargs="+", help="the queues every worker listens to, in order")

    def handle(self, *args, **options):
        listener = listening_socket(options["socket"])  # first: relays that start sooner wait in its backlog
        preload()
        ForkServer(listener, options["queues"]).serve()
