"""The infrastructure's own scheduled jobs: relaying and purging the outbox, purging idempotency keys."""

from django.conf import settings

from corelib.scheduler import Schedule


def schedules() -> list[Schedule]:
    return [
        Schedule("relay-outbox", "corelib.outbox.relay_outbox", interval=settings.OUTBOX_RELAY_INTERVAL),
        Schedule("purge-sent-outbox", "corelib.outbox.purge_sent_outbox", cron="50 0 * * *"),
        Schedule("purge-idempotency-records", "corelib.idempotency.purge_idempotency_records", cron="55 0 * * *"),
    ]
