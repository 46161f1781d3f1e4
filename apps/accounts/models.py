"""Mini-programs, their users and our own API tokens.

These users are not Django auth users: auth lives on the `admin` database and
no relation may cross databases. A user is one person in one mini-program.
"""

from django.db import models


class MiniProgram(models.Model):
    appid = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=64, blank=True)
    secret = models.CharField(max_length=128)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.appid


class WxUser(models.Model):
    mini_program = models.ForeignKey(MiniProgram, on_delete=models.PROTECT, related_name="users")
    openid = models.CharField(max_length=64)
    unionid = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # WeChat's session_key: server-side only, never in a response or a log line.
    session_key = models.CharField(max_length=128, blank=True, default="")
    nickname = models.CharField(max_length=64, blank=True, default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mini_program", "openid"], name="uniq_user_per_miniprogram")]

    def __str__(self) -> str:
        return self.nickname or self.openid


class ApiToken(models.Model):
    """Our own bearer token. Only its SHA-256 digest is stored."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(WxUser, on_delete=models.CASCADE, related_name="tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.digest[:8]}… of user {self.user_id}"
