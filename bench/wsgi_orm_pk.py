"""The service's WSGI app with the db_redis probe reading through the ORM: the A side of `bench.ab --variant orm_pk`."""

from project.wsgi import application  # isort: skip - sets Django up before the app module below

from apps.probes import views


def orm_values_by_pk(model, pk, *fields):
    # What the probe did before corelib.db.pk_read: a QuerySet built and compiled per request.
    rows = model.objects.filter(pk=pk).values(*fields)[:1]
    return rows[0] if rows else None


if not callable(getattr(views, "values_by_pk", None)):
    raise RuntimeError("apps.probes.views.values_by_pk is gone: update bench/wsgi_orm_pk.py")

views.values_by_pk = orm_values_by_pk

__all__ = ["application"]
