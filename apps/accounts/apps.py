from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Mini-programs and their users"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.accounts import mini_programs
        from apps.accounts.models import MiniProgram

        post_save.connect(mini_programs.forget_on_change, sender=MiniProgram, dispatch_uid="mini_programs_saved")
        post_delete.connect(mini_programs.forget_on_change, sender=MiniProgram, dispatch_uid="mini_programs_deleted")
