"""Print the SQL of the migrations a DBA-managed database still lacks."""

from django.core.management import BaseCommand

from corelib.schema import migration_sql, pending_migrations


class Command(BaseCommand):
    help = "Print, for a DBA to apply, the SQL of the pending migrations of a database alias."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database, **options):
        migrations = pending_migrations(database)
        if not migrations:
            self.stderr.write(f"'{database}' is up to date: no pending migration.")
            return
        self.stdout.write(f"-- {len(migrations)} pending migration(s) for '{database}'. Apply in order.")
        for statement in migration_sql(database, migrations):
            self.stdout.write(statement)
