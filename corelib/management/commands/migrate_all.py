"""Migrate every database alias the ORM may manage, one after the other."""

from django.conf import settings
from django.core.management import BaseCommand, call_command


class Command(BaseCommand):
    help = "Run migrate on each database alias (skipping the ones a DBA manages)."

    def add_arguments(self, parser):
        parser.add_argument("--noinput", "--no-input", action="store_true", help="Accepted for symmetry; never asks.")

    def handle(self, *args, **options):
        for alias in settings.DATABASES:
            if alias in settings.DBA_MANAGED_DATABASES:
                self.stdout.write(f"Skipping '{alias}': its schema is applied by the DBA (manage.py schema_sql).")
                continue
            self.stdout.write(f"Migrating '{alias}'")
            call_command("migrate", database=alias, interactive=False, verbosity=options["verbosity"])
