"""WSGI entry point. The settings module is always named explicitly by the caller
(gunicorn.conf.py / Supervisor); the debug default is only a fallback."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_debug")

application = get_wsgi_application()
