from django.contrib import admin
from django.urls import path

from corelib import health

urlpatterns = [
    path("api/health", health.health, name="health"),
    path("api/ready", health.ready, name="ready"),
    path("admin/", admin.site.urls),
]
