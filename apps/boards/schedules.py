"""When the boards' jobs run. Cron strings are in settings.TIME_ZONE."""

from corelib.scheduler import Schedule


def schedules() -> list[Schedule]:
    return [Schedule("rollup-daily-stats", "apps.boards.jobs.rollup_daily_stats", cron="10 0 * * *")]
