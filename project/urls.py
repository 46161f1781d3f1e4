from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from corelib import health
from corelib.errors import api_not_found
from corelib.metrics_view import metrics
from project.api import urls as api_urls

urlpatterns = [
    path("api/health", health.health, name="health"),
    path("api/ready", health.ready, name="ready"),
    path("api/version", health.version, name="version"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # The benchmark's probes: off unless PROBES_ENABLED (db-redis lists mini-programs without login).
    *(
        [path("api/health/db", health.database, name="health-db"), path("api/probe/", include("apps.probes.urls"))]
        if settings.PROBES_ENABLED
        else []
    ),
    path("api/v1/", api_urls()),
    # Keep last: any other path under /api/ answers a JSON 404, not an HTML page.
    re_path(r"^api/", api_not_found),
]

# Uncaught errors under /api/ answer JSON (503 when MySQL or Redis is down), the admin an HTML page.
handler500 = "corelib.server_error.server_error"
