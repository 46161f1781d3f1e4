"""Pending migrations of the aliases a DBA manages, and their SQL."""

from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from corelib.router import alias_for_app, rendering_sql_for_dba


def pending_migrations(alias: str) -> list:
    """Migrations of the apps living on `alias` that its database has not recorded."""
    executor = MigrationExecutor(connections[alias])
    targets = [node for node in executor.loader.graph.leaf_nodes() if alias_for_app(node[0]) == alias]
    plan = executor.migration_plan(targets)
    return [migration for migration, backwards in plan if not backwards]


def migration_sql(alias: str, migrations: list) -> list[str]:
    """The DDL of each migration plus the INSERT that records it as applied."""
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    statements = [
        "CREATE TABLE IF NOT EXISTS `django_migrations` (`id` bigint AUTO_INCREMENT NOT NULL PRIMARY KEY, "
        "`app` varchar(255) NOT NULL, `name` varchar(255) NOT NULL, `applied` datetime(6) NOT NULL) "
        "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;"
    ]
    for migration in migrations:
        statements.append(f"-- {migration.app_label}.{migration.name}")
        state = executor.loader.project_state((migration.app_label, migration.name), at_end=False)
        with rendering_sql_for_dba(), connection.schema_editor(collect_sql=True, atomic=False) as editor:
            migration.apply(state, editor, collect_sql=True)
        statements.extend(editor.collected_sql)
        # Names come from this repository's migration files, not from user input.
        record = f"VALUES ('{migration.app_label}', '{migration.name}', NOW(6));"
        statements.append("INSERT INTO `django_migrations` (`app`, `name`, `applied`) " + record)
    return statements
