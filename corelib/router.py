"""Database router: Django's own tables on `admin`, business data on `default`.

As in the seeds, production keeps admin/auth/contenttypes/sessions in the test
environment's database while the business tables live in the production MySQL.
`DATABASE_APPS_MAPPING` says which app lives where; an unlisted app is business
data on `default`. A relation never crosses the two databases (MySQL cannot
join or constrain across them), and the ORM runs no DDL on an alias listed in
`DBA_MANAGED_DATABASES`: a DBA applies that schema (`manage.py schema_sql`).
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

BUSINESS_ALIAS = "default"
# True while `schema_sql` renders migrations to text: nothing is executed then.
_rendering_sql: ContextVar[bool] = ContextVar("rendering_sql", default=False)


@contextmanager
def rendering_sql_for_dba():
    """Let migrations render their DDL for a DBA-managed alias, without running it."""
    token = _rendering_sql.set(True)
    try:
        yield
    finally:
        _rendering_sql.reset(token)


def alias_for_app(app_label: str) -> str:
    return settings.DATABASE_APPS_MAPPING.get(app_label, BUSINESS_ALIAS)


class AppsRouter:
    def db_for_read(self, model, **hints):
        return alias_for_app(model._meta.app_label)

    def db_for_write(self, model, **hints):
        return alias_for_app(model._meta.app_label)

    def allow_relation(self, obj1, obj2, **hints):
        return alias_for_app(obj1._meta.app_label) == alias_for_app(obj2._meta.app_label)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db in settings.DBA_MANAGED_DATABASES and not _rendering_sql.get():
            return False
        return db == alias_for_app(app_label)
