"""The test environment (测试环境): MySQL for both aliases, DEBUG off.

Also what `make test` runs against, with database names and the Redis URL
chosen per run by tests/isolation.py.
"""

from corelib.env import env_str
from project.settings import *  # noqa: F403
from project.settings import finish_settings, mysql_alias

ENVIRONMENT = "test"
DEBUG = False

DATABASES = {
    "default": mysql_alias("DB", "miniprogram", env_str("DB_PASSWORD", "")),
    "admin": mysql_alias("ADMIN_DB", "miniprogram_admin", env_str("ADMIN_DB_PASSWORD", "")),
}

finish_settings(globals())
