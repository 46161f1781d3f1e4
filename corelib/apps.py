from django.apps import AppConfig


class CorelibConfig(AppConfig):
    name = "corelib"
    verbose_name = "Core infrastructure"
