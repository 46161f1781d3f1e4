"""`migrate` that refuses to touch an alias a DBA manages (master's `default`).

Django's own migrate would still create `django_migrations` there and record
business migrations as applied without running them, which would hide a
lagging schema from `schema_check`. On such an alias this command migrates
nothing and points at `schema_sql` instead.
"""

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        database = options["database"]
        if database in settings.DBA_MANAGED_DATABASES:
            self.stdout.write(
                self.style.WARNING(
                    f"Database '{database}' is managed by the DBA in this environment: the ORM runs no DDL there. "
                    "Print the pending SQL with `manage.py schema_sql`, and check with `manage.py schema_check`."
                )
            )
            return
        super().handle(*args, **options)
