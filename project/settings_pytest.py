"""What `make test` runs against: the test environment's shape, on this run's databases.

Like project.settings_test (MySQL for both aliases, DEBUG off), with database
names, the Redis URL and a random SECRET_KEY chosen per run by tests/isolation.py.
Processes the suite starts with project.settings_test inherit that key.
"""

from corelib.env import env_str
from project.settings import *  # noqa: F403
from project.settings import finish_settings, mysql_alias

ENVIRONMENT = "pytest"
DEBUG = False

SECRET_KEY = env_str("SECRET_KEY")

DATABASES = {
    "default": mysql_alias("DB", "miniprogram", env_str("DB_PASSWORD", "")),
    "admin": mysql_alias("ADMIN_DB", "miniprogram_admin", env_str("ADMIN_DB_PASSWORD", "")),
}

finish_settings(globals())
