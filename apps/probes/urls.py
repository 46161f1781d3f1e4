from django.urls import path

from apps.probes import views

urlpatterns = [
    path("json", views.probe_json, name="probe-json"),
    path("db-redis/<int:pk>", views.probe_db_redis, name="probe-db-redis"),
]
