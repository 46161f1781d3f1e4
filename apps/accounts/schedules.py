"""When the accounts' jobs run. Cron strings are in settings.TIME_ZONE."""

from corelib.scheduler import Schedule


def schedules() -> list[Schedule]:
    return [
        # A token lives 120 minutes; corelib.wechat_tokens refreshes one with less than 100 left.
        Schedule("refresh-access-tokens", "apps.accounts.jobs.refresh_access_tokens", interval=90 * 60),
        Schedule("purge-expired-tokens", "apps.accounts.jobs.purge_expired_tokens", cron="40 0 * * *"),
    ]
