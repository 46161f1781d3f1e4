"""MariaDB stopped for 10 s under a mixed load: quick 503 JSON answers, honest writes, fast recovery.

Every answer is a 2xx or a 503 in the API's JSON error shape, none waits past the
configured timeouts, every post answered 201 is stored and every post answered 5xx
is not, the API writes again within 5 s of MariaDB answering, and no program is
restarted.
"""

import time
from collections import Counter

import pytest
import requests

from tests.faults.load import MixedLoad
from tests.faults.stack import APPID
from tests.faults.test_redis_loss import poll

pytestmark = pytest.mark.slow

DOWN_SECONDS = 10
# DB_CONNECT_TIMEOUT (5 s) + DB_POOL_TIMEOUT (5 s) bound a request's wait for MariaDB; generous on top.
LONGEST_ANSWER = 15.0
RECOVERY_SECONDS = 5.0


def test_mariadb_down_for_10_seconds_under_load(fault_stack):
    stack = fault_stack
    stack.wait_all_running()
    pids_before = stack.pids()
    load = MixedLoad(stack.url, stack.wechat, APPID)
    load.prepare()
    states_seen: Counter = Counter()

    with load:
        time.sleep(4)  # a span of load before the fault, not a wait for a condition
        down_at = time.monotonic()
        stack.mariadb.stop()
        while time.monotonic() < down_at + DOWN_SECONDS:
            states_seen.update(stack.states().values())
        stack.mariadb.start()  # returns once a query succeeds
        answering_at = time.monotonic()

        def a_post_is_stored() -> bool:
            response = requests.post(
                f"{stack.url}/api/v1/boards/{load.board_id}/messages",
                json={"content": f"recovery-{time.monotonic()}"},
                headers={"Authorization": f"Bearer {load.people[0].token}"},
                timeout=30,
            )
            return response.status_code == 201

        poll(a_post_is_stored, 30, "a post to be stored again")
        recovered_after = time.monotonic() - answering_at
        time.sleep(3)  # a span of load after the recovery

    print("answers:", load.summary(load.answers))
    print("while MariaDB was down:", load.summary(load.between(down_at, answering_at)))
    print(f"MariaDB down {answering_at - down_at:.1f}s; a post stored {recovered_after:.2f}s after it answered")
    unexpected = [
        (a.kind, a.status, a.code)
        for a in load.answers
        if not (isinstance(a.status, int) and (a.status < 400 or (a.status == 503 and a.code.startswith("database_"))))
    ]
    assert unexpected == [], Counter(unexpected)
    assert any(a.status == 503 for a in load.between(down_at, answering_at)), "the fault did not show"
    slowest = max(a.seconds for a in load.answers)
    print(f"slowest answer {slowest:.2f}s")
    assert slowest < LONGEST_ANSWER
    assert recovered_after < RECOVERY_SECONDS

    stored = {row[0] for row in stack.sql("SELECT content FROM boards_message WHERE board_id = %s", [load.board_id])}
    answered_201, answered_5xx = set(load.posts(201)), set(load.posts(500, 502, 503, 504))
    assert answered_201 - stored == set(), "posts answered 201 but not stored"
    assert answered_5xx & stored == set(), "posts answered 5xx but stored"
    print(f"posts: {len(answered_201)} answered 201 (all stored), {len(answered_5xx)} answered 5xx (none stored)")

    assert "FATAL" not in states_seen and "EXITED" not in states_seen, states_seen
    stack.wait_all_running(timeout=30)
    assert stack.pids() == pids_before, "a program was restarted"
