"""The test environment (测试环境): MySQL for both aliases, DEBUG off.

Its admin tables are production's (corelib.router), so it signs sessions with a
SECRET_KEY of its own that meets master's bar: required, not a placeholder,
50+ random characters. The pytest suite runs on project.settings_pytest.
"""

from corelib.env import env_secret, env_str
from project.settings import *  # noqa: F403
from project.settings import finish_settings, mysql_alias

ENVIRONMENT = "test"
DEBUG = False

SECRET_KEY = env_secret("SECRET_KEY", strong=True)

DATABASES = {
    "default": mysql_alias("DB", "miniprogram", env_str("DB_PASSWORD", "")),
    "admin": mysql_alias("ADMIN_DB", "miniprogram_admin", env_str("ADMIN_DB_PASSWORD", "")),
}

finish_settings(globals())
