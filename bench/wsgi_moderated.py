"""The service's WSGI app with posts moderated before they are stored, for the `post_moderated` case.

The service checks a new message with WeChat's msg_sec_check in a job, after the
post has answered. Many services do it in the request instead, so that nothing
unchecked is ever shown: this variant measures that path, a realistic request
that waits on WeChat. Before the post is stored it reads the author's openid and
mini-program, gives its database connection back (as login does before it
calls WeChat), takes the access token from Redis and waits for msg_sec_check;
a risky verdict answers 422, anything else goes on to the app's own post (which
still enqueues the job). Every other route is the service's own.
"""

from project.wsgi import application  # isort: skip - sets Django up before the app modules below

from apps.accounts.models import WxUser
from apps.boards import services as board_services
from corelib import wechat
from corelib.dbpool import release_connections
from corelib.errors import ApiError, ServiceUnavailableError
from corelib.wechat_tokens import call_with_token

_store_post = board_services.post_message


def post_message_checked_first(auth, board_id: int, content: str) -> dict:
    author = WxUser.objects.select_related("mini_program").only("openid", "mini_program").get(pk=auth.id)
    release_connections()  # no database slot held while WeChat answers
    try:
        verdict = call_with_token(
            author.mini_program, lambda token: wechat.msg_sec_check(token, author.openid, content)
        )
    except wechat.WeChatUnavailableError:
        raise ServiceUnavailableError("WeChat is unreachable; try again.", code="wechat_unavailable") from None
    if verdict.is_risky:
        raise ApiError("The content was refused by moderation.", code="risky_content", status=422, field="content")
    return _store_post(auth, board_id, content)


if not callable(_store_post):
    raise RuntimeError("apps.boards.services.post_message is gone: update bench/wsgi_moderated.py")
board_services.post_message = post_message_checked_first

__all__ = ["application"]
