"""Fetch the one model instance matching a few exact values, with the SQL compiled once per process.

`Model.objects.filter(a=x, b=y).first()` builds a QuerySet, clones it and runs
Django's SQL compiler on every call, as a primary-key read does (see
corelib.db.pk_read). For a lookup on a unique key the statement only differs by
its values: it is compiled once per model, field names and database, then
executed with the values as its parameters. The instance is what the ORM gives:
every concrete field, each through the same converters, built with from_db().

Only values Django passes to the driver unchanged (str, int, bool) are
accepted, so the parameters of one call can stand in for another's.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Model

M = TypeVar("M", bound=Model)

_PLAIN = (str, int, bool)
# (model, field names, alias) -> (sql, attnames, converters by column position)
_compiled: dict[tuple[type[Model], tuple[str, ...], str], tuple[str, tuple[str, ...], list]] = {}


def _compile(model: type[Model], exact: dict[str, Any], alias: str) -> tuple[str, tuple[str, ...], list]:
    query = model._default_manager.using(alias).filter(**exact)[:1].query
    compiler = query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if list(params) != list(exact.values()):
        raise ValueError(f"the values of {sorted(exact)} are not passed through as they are in {sql!r}")
    columns = [column for column, _, _ in compiler.select]
    converters = sorted(compiler.get_converters(columns).items())
    attnames = tuple(column.target.attname for column in columns)
    return sql, attnames, converters


def first_where(model: type[M], **exact: Any) -> M | None:
    """The instance with these exact field values, like `.filter(**exact).first()` on a unique key, or None."""
    for value in exact.values():
        if type(value) not in _PLAIN:
            raise TypeError(f"first_where() takes str, int or bool values, not {type(value).__name__}")
    alias = router.db_for_read(model) or "default"
    cache_key = (model, tuple(exact), alias)
    compiled = _compiled.get(cache_key)
    if compiled is None:
        compiled = _compiled[cache_key] = _compile(model, exact, alias)
    sql, attnames, converters = compiled
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, tuple(exact.values()))
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, (functions, expression) in converters:
        for convert in functions:
            values[position] = convert(values[position], expression, connection)
    return model.from_db(alias, attnames, values)
