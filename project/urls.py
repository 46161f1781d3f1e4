from django.contrib import admin
from django.urls import include, path, re_path

from corelib import health
from corelib.errors import api_not_found
from project.api import urls as api_urls

urlpatterns = [
    path("api/health", health.health, name="health"),
    path("api/ready", health.ready, name="ready"),
    path("api/health/db", health.database, name="health-db"),
    path("api/version", health.version, name="version"),
    path("api/probe/", include("apps.probes.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls()),
    # Keep last: any other path under /api/ answers a JSON 404, not an HTML page.
    re_path(r"^api/", api_not_found),
]
