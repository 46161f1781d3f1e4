"""Admin for mini-programs: the secret is write-only once saved."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models

from apps.accounts.models import ApiToken, MiniProgram, WxUser


def mask(secret: str) -> str:
    return f"{secret[:2]}{'•' * 8}{secret[-2:]}" if len(secret) > 6 else "•" * 8


class MiniProgramForm(forms.ModelForm):
    """An empty secret field on an existing mini-program keeps the saved secret."""

    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the saved secret.",
    )

    class Meta:
        model = MiniProgram
        fields = ["appid", "name", "secret", "is_active"]

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if secret:
            return secret
        if self.instance.pk:
            return self.instance.secret
        raise forms.ValidationError("A new mini-program needs its secret.")


@admin.register(MiniProgram)
class MiniProgramAdmin(admin.ModelAdmin):
    form = MiniProgramForm
    list_display = ["appid", "name", "masked_secret", "is_active", "created_at"]
    search_fields = ["appid", "name"]

    @admin.display(description="secret")
    def masked_secret(self, obj: MiniProgram) -> str:
        return mask(obj.secret)


@admin.register(WxUser)
class WxUserAdmin(admin.ModelAdmin):
    list_display = ["id", "mini_program", "openid", "nickname", "created_at"]
    list_filter = ["mini_program"]
    search_fields = ["openid", "unionid", "nickname"]
    exclude = ["session_key"]  # never shown, not even to staff
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["mini_program", "openid", "unionid", "created_at", "updated_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "created_at", "expires_at", "revoked_at"]
    readonly_fields = ["digest", "user", "created_at", "expires_at"]
