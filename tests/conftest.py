"""Shared fixtures.

Tests that touch the databases say so with
`@pytest.mark.django_db(databases="__all__")`, adding `transaction=True` when a
subprocess (worker, Gunicorn, Supervisor) must see their data.
"""

import pytest

from tests.support import subprocess_env


@pytest.fixture
def service_env(django_db_setup):
    """Environment for a subprocess of this test run: its databases, its Redis."""
    return subprocess_env()
