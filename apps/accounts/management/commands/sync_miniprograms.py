"""Create or update the mini-programs listed in WECHAT_MINIPROGRAMS ("appid:secret,...")."""

from django.conf import settings
from django.core.management import BaseCommand, CommandError

from apps.accounts.models import MiniProgram


def parse_miniprograms(value: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        appid, sep, secret = item.partition(":")
        if not sep or not appid.strip() or not secret.strip():
            raise CommandError(f"WECHAT_MINIPROGRAMS: '{appid}' must be written appid:secret")
        pairs[appid.strip()] = secret.strip()
    return pairs


class Command(BaseCommand):
    help = "Create or update the mini-programs (appid and secret) listed in WECHAT_MINIPROGRAMS."

    def handle(self, *args, **options):
        pairs = parse_miniprograms(settings.WECHAT_MINIPROGRAMS)
        for appid, secret in pairs.items():
            _, created = MiniProgram.objects.update_or_create(appid=appid, defaults={"secret": secret})
            self.stdout.write(f"{'created' if created else 'updated'} mini-program {appid}")
        if not pairs:
            self.stdout.write("WECHAT_MINIPROGRAMS is empty: no mini-program synced.")
