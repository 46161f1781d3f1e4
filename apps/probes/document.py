"""The small JSON document of the `json` case, shared with the no-Django ceiling (bench/bare_wsgi.py)."""

import time


def json_document() -> dict:
    # `time` changes on every request, and so does the body's length: seed 001's ab "errors".
    return {"status": "ok", "service": "miniprogram", "version": 1, "time": time.time(), "items": [1, 2, 3]}
