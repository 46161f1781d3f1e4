"""The layers point one way: corelib/ never imports apps/, and nothing shipped imports devtools/.

Read from the source (every import statement, including ones inside functions,
every literal module name handed to importlib, every dotted path in a string),
so an import that runs only on some code path is caught too.
"""

import ast
import re

import pytest

from corelib.scheduler import declared_schedules
from tests.support import PROJECT_ROOT


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in {"import_module", "import_attribute"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            modules.add(node.args[0].value)
    return modules


def offending_imports(package: str, forbidden: str) -> list[str]:
    found = []
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        for module in imported_modules(path.read_text()):
            if module == forbidden or module.startswith(forbidden + "."):
                found.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    return found


def test_the_checker_sees_top_level_nested_and_importlib_imports():
    source = (
        "import apps.boards\n"
        "from apps.accounts.models import MiniProgram\n"
        "def later():\n"
        "    from apps.boards import jobs\n"
        "    importlib.import_module('apps.probes.views')\n"
    )
    assert imported_modules(source) >= {"apps.boards", "apps.accounts.models", "apps.probes.views"}


def test_corelib_never_imports_apps():
    assert offending_imports("corelib", "apps") == []


@pytest.mark.parametrize("package", ["corelib", "apps", "project"])
def test_production_code_never_imports_the_development_tools(package: str):
    assert offending_imports(package, "devtools") == []


def test_each_app_declares_its_own_schedules_and_the_scheduler_collects_them():
    declared = {schedule.name: schedule.func_path for schedule in declared_schedules()}
    assert declared == {
        "relay-outbox": "corelib.outbox.relay_outbox",
        "purge-sent-outbox": "corelib.outbox.purge_sent_outbox",
        "purge-idempotency-records": "corelib.idempotency.purge_idempotency_records",
        "refresh-access-tokens": "apps.accounts.jobs.refresh_access_tokens",
        "purge-expired-tokens": "apps.accounts.jobs.purge_expired_tokens",
        "rollup-daily-stats": "apps.boards.jobs.rollup_daily_stats",
    }


def test_corelib_names_no_app_module_in_a_string_either():
    """A dotted path in a string (a job to enqueue, a schedule) is an import that runs later."""
    named = [
        f"{path.relative_to(PROJECT_ROOT)}: {node.value}"
        for path in sorted((PROJECT_ROOT / "corelib").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.match(r"apps\.\w+\.", node.value)
    ]
    assert named == []
