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
from corelib.db.pk_read import values_by_pk

PROBE_KEY = "probe:mini-program:{}"
JSON = "application/json"


def _json(payload: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), content_type=JSON, status=status)


def probe_json(request: HttpRequest) -> HttpResponse:
    return _json(json_document())


def probe_db_redis(request: HttpRequest, pk: int) -> HttpResponse:
    # SQL compiled once per process (corelib.db.pk_read), not by the ORM on every request.
    row = values_by_pk(MiniProgram, pk, "id", "appid", "name", "is_active")
    if row is None:
        return _json({"error": {"code": "not_found", "message": f"No mini-program {pk}.", "field": "pk"}}, status=404)
    row["hits"] = cache.get(PROBE_KEY.format(pk))
    return _json(row)
