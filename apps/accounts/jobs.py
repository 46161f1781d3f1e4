"""Background jobs of the accounts: WeChat access tokens and our own API tokens."""

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import ApiToken, MiniProgram
from corelib.jobpolicy import job_policy
from corelib.wechat_tokens import needs_refresh, refresh_token

logger = logging.getLogger("jobs.accounts")

# Expired or revoked tokens are kept this long (to answer "token expired" clearly), then deleted.
PURGE_AFTER = timedelta(days=7)


@job_policy(queue="high", timeout=120, retry_max=3, retry_intervals=(30, 120, 300))
def refresh_access_tokens() -> int:
    """Refresh each active mini-program's access token before it expires. Returns how many."""
    refreshed, failed = 0, []
    for program in MiniProgram.objects.filter(is_active=True).order_by("pk"):
        if not needs_refresh(program.appid):
            continue
        try:
            refresh_token(program)
            refreshed += 1
        except Exception as error:  # one bad mini-program must not starve the others
            logger.warning("access token of %s not refreshed: %s", program.appid, error)
            failed.append(program.appid)
    if failed:
        raise RuntimeError(f"access tokens not refreshed for {', '.join(failed)}")
    return refreshed


@job_policy(queue="low", timeout=300)
def purge_expired_tokens() -> int:
    """Delete API tokens that expired or were revoked more than PURGE_AFTER ago."""
    cutoff = timezone.now() - PURGE_AFTER
    deleted, _ = ApiToken.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)).delete()
    logger.info("purged %d expired or revoked API token(s)", deleted)
    return deleted
