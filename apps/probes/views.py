"""Two fixed-cost endpoints the benchmark measures (bench/, issue 6).

`json` is seed 001's first row: a small JSON document with no I/O. Its `time`
field changes on every request (so its length changes too, which is what ab
counts as a failure without `-l`). `db_redis` is seed 001's second row: one row
by primary key plus one Redis GET. Both are plain Django views with orjson:
they measure the framework and the I/O, not a serializer.
"""

import orjson
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from apps.accounts.models import MiniProgram
from apps.probes.document import json_document

PROBE_KEY = "probe:mini-program:{}"
JSON = "application/json"


def _json(payload: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), content_type=JSON, status=status)


def probe_json(request: HttpRequest) -> HttpResponse:
    return _json(json_document())


def probe_db_redis(request: HttpRequest, pk: int) -> HttpResponse:
    row = MiniProgram.objects.filter(pk=pk).values("id", "appid", "name", "is_active").first()
    if row is None:
        return _json({"error": {"code": "not_found", "message": f"no mini-program {pk}"}}, status=404)
    row["hits"] = cache.get(PROBE_KEY.format(pk))
    return _json(row)
