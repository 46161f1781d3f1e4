"""Read a few columns of one row by primary key, with the SQL compiled once per process.

`Model.objects.filter(pk=x).values(...)[:1]` builds a QuerySet, clones it and
runs Django's SQL compiler on every call: most of the CPU an ORM primary-key
read costs, ahead of the query itself (profiled with bench/profile.py on the
db_redis case). The statement only differs by the key, so it is compiled once
per model, columns and database, then executed with the key as its one
parameter. The answer is what `.values()` gives: the same columns, each
through the same converters (booleans, dates), so callers and their JSON do not
change.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models import Model

# (model, fields, alias) -> (sql, names, converters by column position)
_compiled: dict[tuple[type[Model], tuple[str, ...], str], tuple[str, tuple[str, ...], list]] = {}


def _compile(model: type[Model], fields: tuple[str, ...], alias: str) -> tuple[str, tuple[str, ...], list]:
    # The key is a placeholder: only its parameter slot is kept.
    query = model._default_manager.using(alias).filter(pk=0).values(*fields)[:1].query
    compiler = query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if len(params) != 1:
        raise ValueError(f"expected one parameter (the key) in {sql!r}")
    converters = sorted(compiler.get_converters([column for column, _, _ in compiler.select]).items())
    # The column order .values() answers in (it may differ from the order asked for).
    names = (*query.extra_select, *query.values_select, *query.annotation_select)
    return sql, names, converters


def values_by_pk(model: type[Model], pk: int, *fields: str) -> dict[str, Any] | None:
    """The row's `fields` as a dict, like `.filter(pk=pk).values(*fields).first()`, or None."""
    alias = router.db_for_read(model) or "default"
    cache_key = (model, fields, alias)
    compiled = _compiled.get(cache_key)
    if compiled is None:
        compiled = _compiled[cache_key] = _compile(model, fields, alias)
    sql, names, converters = compiled
    values = fetch_one(alias, sql, (int(pk),), converters)
    return None if values is None else dict(zip(names, values, strict=True))


def fetch_one(alias: str, sql: str, params: tuple, converters: list) -> list[Any] | None:
    """The first row of `sql`, each column through the converters a queryset applies to it, or None."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, (functions, expression) in converters:
        for convert in functions:
            values[position] = convert(values[position], expression, connection)
    return values
