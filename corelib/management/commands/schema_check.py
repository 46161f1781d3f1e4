"""Exit non-zero while a database's schema lags the code (used by the deploy)."""

from django.core.management import BaseCommand, CommandError

from corelib.schema import pending_migrations


class Command(BaseCommand):
    help = "Fail while the database alias has migrations it has not recorded."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database, **options):
        migrations = pending_migrations(database)
        if migrations:
            names = ", ".join(f"{m.app_label}.{m.name}" for m in migrations)
            raise CommandError(
                f"The schema of '{database}' lags the code by {len(migrations)} migration(s): {names}. "
                "Have the DBA apply `manage.py schema_sql` first."
            )
        self.stdout.write(f"The schema of '{database}' is up to date.")
