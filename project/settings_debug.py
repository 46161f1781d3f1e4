"""Local development: DEBUG on, and an embedded default.

With no DB_HOST configured both aliases are SQLite files under var/, so the
service runs on a fresh machine with nothing but a Redis server (which
`make run` starts privately unless REDIS_URL is set).
"""

import os
from pathlib import Path

# While `make run` is up on its private Redis (devtools/devstack.py), every other debug process of this checkout
# (`manage.py top`, `manage.py shell`) uses that Redis too. Read before the base settings derive their Redis URLs.
_MAKE_RUN_REDIS = Path(__file__).resolve().parent.parent / "var" / "make-run-redis-url"
if not os.environ.get("REDIS_URL") and _MAKE_RUN_REDIS.exists():
    os.environ["REDIS_URL"] = _MAKE_RUN_REDIS.read_text().strip()

from corelib.env import env_list, env_str  # noqa: E402
from project.settings import *  # noqa: E402, F403
from project.settings import BASE_DIR, finish_settings, mysql_alias, sqlite_alias  # noqa: E402

ENVIRONMENT = "debug"
DEBUG = True
LOG_TO_CONSOLE = True
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])

VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

if os.environ.get("DB_HOST"):
    DATABASES = {
        "default": mysql_alias("DB", "miniprogram", os.environ.get("DB_PASSWORD", "")),
        "admin": mysql_alias("ADMIN_DB", "miniprogram_admin", os.environ.get("ADMIN_DB_PASSWORD", "")),
    }
else:
    DATABASES = {
        "default": sqlite_alias(VAR_DIR / "business.sqlite3"),
        "admin": sqlite_alias(VAR_DIR / "admin.sqlite3"),
    }

# A demo mini-program so that login works offline against the WeChat stand-in.
WECHAT_MINIPROGRAMS = env_str("WECHAT_MINIPROGRAMS", "wxdemo0000000001:demo-secret-1,wxdemo0000000002:demo-secret-2")

# Login works offline: `make run` starts devtools.wechat_standin on this port.
WECHAT_API_BASE = env_str("WECHAT_API_BASE", "http://127.0.0.1:8765")

finish_settings(globals())
