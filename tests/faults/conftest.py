"""Fixtures of the fault tests: one private stack (tests/faults/stack.py) for the package.

Booting it costs most of a minute on a 2-core machine.
"""

import threading

import pytest

from tests.faults.stack import start_fault_stack
from tests.support import free_port


@pytest.fixture(scope="package")
def wechat_standin():
    from devtools import wechat_standin

    port = free_port()
    server = wechat_standin.make_server(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="package")
def fault_stack(tmp_path_factory, wechat_standin):
    stack = start_fault_stack(tmp_path_factory.mktemp("faults"), wechat_standin)
    try:
        yield stack
    finally:
        stack.stop()
