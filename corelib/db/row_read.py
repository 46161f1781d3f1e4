"""Read one model instance by a few exact values, update or insert one row: no QuerySet, no compiler per call.

`Model.objects.filter(a=x, b=y).first()` builds a QuerySet, clones it and runs
Django's SQL compiler on every call, as a primary-key read does (see
corelib.db.pk_read). For a lookup on a unique key the statement only differs by
its values: it is compiled once per model, field names and database, then
executed with the values as its parameters. The instance is what the ORM gives:
every concrete field, each through the same converters, built with from_db().

Only values Django passes to the driver unchanged (str, int, bool) are
accepted, so the parameters of one call can stand in for another's.

update_fields() and insert() write the SQL Django's save() writes for a plain
model (no parents, no expressions as values), with each value prepared by its
field as save() prepares it, but without save()'s per-call query building (or
its signals: nothing here listens to them for the models that use these).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Model

from corelib.db.pk_read import fetch_one

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
    values = fetch_one(alias, sql, tuple(exact.values()), converters)
    return None if values is None else model.from_db(alias, attnames, values)


# (model, field names, alias) -> the UPDATE or INSERT statement; identifiers only, quoted from the model's meta
_statements: dict[tuple[str, type[Model], tuple[str, ...], str], str] = {}


def _statement(kind: str, model: type[Model], fields: list, connection) -> str:
    key = (kind, model, tuple(field.name for field in fields), connection.alias)
    sql = _statements.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        if kind == "update":
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
            sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 - the values are parameters
        else:
            columns = ", ".join(quote(field.column) for field in fields)
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
        _statements[key] = sql
    return sql


def update_fields(instance: Model, **values: Any) -> None:
    """Set these fields on the instance and in its row, like `save(update_fields=...)` with these values
    (an auto_now field changes only if named)."""
    model = type(instance)
    connection = connections[router.db_for_write(model, instance=instance) or "default"]
    fields = [model._meta.get_field(name) for name in values]
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(_statement("update", model, fields, connection), (*params, instance.pk))
    for name, value in values.items():
        setattr(instance, name, value)


def insert(instance: M) -> M:
    """Store a new instance as `save()` would (auto_now_add and auto_now fields set), and give it its id."""
    model = type(instance)
    alias = router.db_for_write(model, instance=instance) or "default"
    connection = connections[alias]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_statement("insert", model, fields, connection), params)
        instance.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    instance._state.adding = False
    instance._state.db = alias
    return instance
