"""WSGI entry point. The settings module is always named explicitly by the caller
(gunicorn.conf.py / Supervisor); the debug default is only a fallback.

/api/ runs through a lean middleware chain, the admin through the full one
(corelib.wsgi)."""

import os

from corelib.wsgi import get_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_debug")

application = get_application()
