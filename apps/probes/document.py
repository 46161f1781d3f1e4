"""The small JSON document of the `json` case, shared with the no-Django ceiling (bench/bare_wsgi.py)."""

import time


def json_document() -> dict:
    # `time` changes on every request, and so does the body's length: what ab without `-l` counts as "failed".
    return {"status": "ok", "service": "miniprogram", "version": 1, "time": time.time(), "items": [1, 2, 3]}
