"""`make run`'s launcher (devtools.devstack) from a copy of the checkout, on the fresh-machine default (SQLite).

Without REDIS_URL it runs on a private Redis of its own, gone after Ctrl-C; with
REDIS_URL it uses that Redis and takes its schedules away on exit. Every log
line is in TIME_ZONE, shown with its offset.
"""

import os
import re
import signal
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.runtime.stack import copy_checkout
from tests.support import PYTHON, free_port, stop_process, wait_for_http, wait_until

pytestmark = pytest.mark.slow
ZONE = "America/Sao_Paulo"  # neither the machine's UTC nor the default, and no daylight saving time
PRIVATE = re.compile(r"private Redis on 127\.0\.0\.1:(\d+)")


def start_make_run(tmp_path, **env):
    checkout = copy_checkout(tmp_path / "app")
    port = free_port()
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(tmp_path),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "WECHAT_STANDIN_PORT": str(free_port()),
        "TIME_ZONE": ZONE,
        **env,
    }
    process = subprocess.Popen(
        [PYTHON, "-m", "devtools.devstack"],
        cwd=checkout,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, checkout, f"http://127.0.0.1:{port}"


def stop_with_ctrl_c(process) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        stop_process(process)
        raise
    return output


def test_without_redis_url_it_runs_on_a_private_redis_that_goes_with_it(tmp_path):
    process, checkout, url = start_make_run(tmp_path)
    try:
        wait_for_http(f"{url}/api/ready", timeout=120)
    except TimeoutError:
        stop_process(process)
        raise
    output = stop_with_ctrl_c(process)

    assert process.returncode == 0, output
    redis_port = int(PRIVATE.search(output).group(1))
    assert redis_port != 6379
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=redis_port, socket_connect_timeout=0.5).ping()
    assert "private Redis stopped" in output
    assert_every_log_line_in_the_zone(checkout / "logs")


def test_with_redis_url_its_schedules_are_removed_on_exit(tmp_path):
    shared = redis.Redis.from_url(os.environ["REDIS_URL"])  # this test run's own database index
    # Other tests of this run registered schedules here too: start from none, so what is left is make run's.
    for key in [*shared.scan_iter("rq:job:schedule-*"), "rq:scheduler:scheduled_jobs"]:
        shared.delete(key)
    process, _, url = start_make_run(tmp_path, REDIS_URL=os.environ["REDIS_URL"])
    try:
        wait_for_http(f"{url}/api/ready", timeout=120)
        wait_until(lambda: shared.exists("rq:job:schedule-relay-outbox"), 60, "the scheduler to register")
    except BaseException:
        stop_process(process)
        raise
    output = stop_with_ctrl_c(process)

    assert process.returncode == 0, output
    assert "schedules removed" in output
    assert not [key for key in shared.scan_iter("rq:job:schedule-*")]
    assert shared.zcard("rq:scheduler:scheduled_jobs") == 0


def assert_every_log_line_in_the_zone(log_dir) -> None:
    offset = datetime.now(ZoneInfo(ZONE)).strftime("%z")
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None)
    checked = 0
    for path in sorted(log_dir.glob("*.log")):
        for line in path.read_text().splitlines():
            if path.name.startswith("supervisord"):  # Supervisor's own format has no offset: its time must be ours
                stamp = datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
                assert abs(stamp - now) < timedelta(minutes=10), (path.name, line)
            elif path.name.startswith("wechat-standin"):
                continue  # the development stand-in prints no times
            elif line.startswith(("[", "127.0.0.1")):  # a log line, not a traceback's continuation
                assert offset in line or offset[:3] + ":" + offset[3:] in line, (path.name, line)
            checked += 1
    assert checked > 10
