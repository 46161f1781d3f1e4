from django.contrib import admin
from django.urls import include, path

from corelib import health

urlpatterns = [
    path("api/health", health.health, name="health"),
    path("api/ready", health.ready, name="ready"),
    path("api/health/db", health.database, name="health-db"),
    path("api/version", health.version, name="version"),
    path("api/probe/", include("apps.probes.urls")),
    path("admin/", admin.site.urls),
]
