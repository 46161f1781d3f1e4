"""Two fixed-cost endpoints the benchmark measures (bench/README.md).

`json` is a small JSON document with no I/O. Its `time`
field changes on every request (so its length changes too, which is what ab
counts as a failure without `-l`). `db_redis` is one row
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
    # [:1], not .first(): first() adds ORDER BY id, which a primary-key lookup does not need
    # and which cost 84 of the query's 345 us of CPU (the ORM's SQL compiler).
    rows = MiniProgram.objects.filter(pk=pk).values("id", "appid", "name", "is_active")[:1]
    row = rows[0] if rows else None
    if row is None:
        return _json({"error": {"code": "not_found", "message": f"No mini-program {pk}.", "field": "pk"}}, status=404)
    row["hits"] = cache.get(PROBE_KEY.format(pk))
    return _json(row)
