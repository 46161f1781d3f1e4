"""Seed a bench database with realistic data; print what the cases need as one JSON line.

Run by bench/fixture.py as `python -m bench.seed --size full|quick|tiny` with the
run's environment (its own databases and Redis index).
"""

import argparse
import hashlib
import json
import random
from datetime import timedelta

import django

SIZES = {
    # mini-programs, users, boards, messages on the hot board, messages on each other board, likes
    "full": (50, 3000, 20, 5000, 300, 30000),
    "quick": (50, 1000, 5, 2000, 100, 5000),
    "tiny": (5, 50, 2, 100, 10, 100),
}
BENCH_TOKEN = "bench-token-{run}"  # noqa: S105 - a throwaway token for a throwaway database


def seed(size: str) -> dict:
    from django.conf import settings
    from django.core.cache import cache
    from django.utils import timezone

    from apps.accounts.models import ApiToken, MiniProgram, WxUser
    from apps.boards.models import Board, Like, Message
    from apps.probes.views import PROBE_KEY

    n_mp, n_users, n_boards, n_hot, n_other, n_likes = SIZES[size]
    rng = random.Random(1)  # noqa: S311 - data, not secrets
    mps = MiniProgram.objects.bulk_create(
        MiniProgram(appid=f"wxbench{i:010d}", name=f"Bench mini-program {i}", secret=f"secret{i:026d}")
        for i in range(1, n_mp + 1)
    )
    mps = list(MiniProgram.objects.order_by("id"))
    first = mps[0]
    WxUser.objects.bulk_create(
        (WxUser(mini_program=first, openid=f"o-bench-{i:08d}", nickname=f"用户{i} 🙂") for i in range(n_users)),
        batch_size=1000,
    )
    users = list(WxUser.objects.filter(mini_program=first).order_by("id").values_list("id", flat=True))
    boards = Board.objects.bulk_create(
        Board(mini_program=first, owner_id=users[i], title=f"Board {i}", description="A bench board")
        for i in range(n_boards)
    )
    boards = list(Board.objects.order_by("id"))
    for index, board in enumerate(boards):
        count = n_hot if index == 0 else n_other
        Message.objects.bulk_create(
            (
                Message(board=board, author_id=rng.choice(users), content=f"留言 {i}: " + "hi 👋 " * rng.randint(1, 20))
                for i in range(count)
            ),
            batch_size=1000,
        )
    hot = boards[0]
    top = list(Message.objects.filter(board=hot, parent=None).order_by("-id").values_list("id", flat=True))
    recent = top[:200]
    replies = [
        Message(board=hot, author_id=rng.choice(users), parent_id=rng.choice(recent), content="回复 reply")
        for _ in range(len(top) // 5)
    ]
    Message.objects.bulk_create(replies, batch_size=1000)
    pairs = set()
    while len(pairs) < min(n_likes, len(recent) * len(users)):
        pairs.add((rng.choice(recent[:100] if rng.random() < 0.7 else top), rng.choice(users)))
    Like.objects.bulk_create((Like(message_id=m, user_id=u) for m, u in pairs), batch_size=2000)
    _recount(Message, Like, hot)

    token = BENCH_TOKEN.format(run=settings.CACHE_KEY_PREFIX)
    ApiToken.objects.create(
        digest=hashlib.sha256(token.encode()).hexdigest(),
        user_id=users[0],
        expires_at=timezone.now() + timedelta(days=1),
    )
    for mp in mps:
        cache.set(PROBE_KEY.format(mp.id), rng.randint(0, 10**6), timeout=None)
    return {
        "mini_program_ids": [mps[0].id, mps[-1].id],
        "appid": first.appid,
        "secret": first.secret,
        "board_id": hot.id,
        "post_board_id": boards[1].id,  # the post_moderated case writes here, away from the hot board's page
        "board_messages": Message.objects.filter(board=hot).count(),
        "messages": Message.objects.count(),
        "users": len(users),
        "boards": len(boards),
        "likes": Like.objects.count(),
        "token": token,
    }


def _recount(message_model, like_model, board) -> None:
    from django.db.models import Count

    for row in like_model.objects.filter(message__board=board).values("message").annotate(n=Count("id")):
        message_model.objects.filter(pk=row["message"]).update(like_count=row["n"])
    for row in message_model.objects.filter(board=board).exclude(parent=None).values("parent").annotate(n=Count("id")):
        message_model.objects.filter(pk=row["parent"]).update(reply_count=row["n"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=SIZES, default="full")
    args = parser.parse_args()
    django.setup()
    print(json.dumps(seed(args.size)))


if __name__ == "__main__":
    main()
