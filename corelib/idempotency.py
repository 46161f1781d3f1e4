"""`Idempotency-Key` on the API's writes: a retried request gets the first answer and changes nothing.

Mini-programs retry on flaky mobile networks (`wx.request` fails after the
server committed), so a POST could otherwise be stored twice. A client sends
the same `Idempotency-Key` (any string of 1-200 visible ASCII characters, a
UUID is best) with every retry of one write. For 24 hours per caller:

- the first request runs; its answer (any status below 500 except 429) is
  stored in MySQL (`IdempotencyRecord`) and sent;
- a repeat with the same method, path and body gets that answer again, with
  `Idempotent-Replayed: true`, and runs nothing;
- a repeat that arrives while the first still runs waits for it (up to
  WAIT_SECONDS), then answers 409 `idempotency_in_progress`;
- the same key with another method, path or body answers 422
  `idempotency_key_reused`.

A 5xx or 429 is not stored: nothing was written, and the retry runs again.

The caller's scope comes from a function the project passes in (corelib does
not know how the API authenticates): a user's keys never meet another user's.

Limit: the answer is stored right after the view returns, in its own
statement. If the process dies (or MySQL goes away) between the view's commit
and that statement, the key stays "in progress" until its lease (LEASE) ends;
a retry after that runs the write again.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import Error as DatabaseError  # InterfaceError is not a DatabaseError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from corelib.dbpool import release_connections
from corelib.errors import ApiError, json_error
from corelib.jobpolicy import job_policy
from corelib.models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEEP = timedelta(hours=24)
# Longer than any request may run (Gunicorn's timeout kills a worker after 30 s).
LEASE = timedelta(seconds=90)
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

Scope = Callable[[HttpRequest], str | None]


@dataclass
class Claim:
    """What claiming a key found: ours to run, a stored answer, or a refusal."""

    record_id: int | None = None
    answer: HttpResponse | None = None


def _digest(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()


def _fingerprint(request: HttpRequest) -> str:
    hasher = hashlib.sha256(f"{request.method} {request.get_full_path()}\0".encode())
    hasher.update(request.body)
    return hasher.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status)
    if record.content_type:
        response["Content-Type"] = record.content_type
    else:
        del response["Content-Type"]
    response[REPLAYED_HEADER] = "true"
    return response


def _in_progress() -> HttpResponse:
    message = "A request with this Idempotency-Key is still being processed. Retry shortly."
    return json_error(409, "idempotency_in_progress", message, HEADER, headers={"Retry-After": "1"})


def _reused() -> HttpResponse:
    message = "This Idempotency-Key was used for a different request (method, path or body)."
    return json_error(422, "idempotency_key_reused", message, HEADER)


def claim(digest: str, fingerprint: str) -> Claim:
    """Insert the key's row (ours to run), or wait for the request that holds it."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    digest=digest, fingerprint=fingerprint, created_at=now, lease_until=now + LEASE
                )
            return Claim(record_id=record.pk)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(digest=digest).first()
        if record is None:
            continue  # released or expired meanwhile: try to insert again
        if record.created_at < now - KEEP:
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            return Claim(answer=_reused())
        if record.status is not None:
            return Claim(answer=_replay(record))
        if record.lease_until < now:
            # Its request died without an answer: take the key over (see the module's "Limit").
            taken = IdempotencyRecord.objects.filter(pk=record.pk, lease_until=record.lease_until, status=None)
            if taken.update(lease_until=now + LEASE, created_at=now):
                return Claim(record_id=record.pk)
            continue
        if time.monotonic() >= deadline:
            return Claim(answer=_in_progress())
        release_connections()  # no database slot held while waiting
        time.sleep(POLL_SECONDS)


def settle(record_id: int, response: HttpResponse) -> None:
    """Store the answer, or release the key when nothing should be remembered. Never raises."""
    try:
        records = IdempotencyRecord.objects.filter(pk=record_id)
        if response.status_code >= 500 or response.status_code == 429 or response.streaming:
            records.delete()
            return
        records.update(
            status=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content,
        )
    except DatabaseError as error:
        logger.warning("idempotency record %s not settled: %s", record_id, error)


def _claim_for(request: HttpRequest, key: str, caller: Scope | str) -> Claim | None:
    """The key's claim for this request, or None when the key does not apply (no caller, oversized body)."""
    try:
        scope = caller if isinstance(caller, str) else caller(request)
        if scope is None:  # not authenticated: the view answers 401 and writes nothing
            return None
        fingerprint = _fingerprint(request)
        return claim(_digest(scope, key), fingerprint)
    except RequestDataTooBig:  # the API's own answer to an oversized body applies
        return None
    except ApiError as error:  # no database slot free in time (corelib.dbpool)
        return Claim(answer=json_error(error.status, error.code, error.message, error.field, error.headers))
    except DatabaseError as error:
        logger.error("idempotency key check failed on %s %s: %s", request.method, request.path, error)
        message = "The database does not answer right now. Retry shortly."
        return Claim(answer=json_error(503, "database_unavailable", message, headers={"Retry-After": "1"}))


def idempotent(view: Callable[..., HttpResponse], scope: Scope, writes: dict[str, bool]) -> Callable[..., HttpResponse]:
    """Wrap an API view so that its writes honour `Idempotency-Key` (see the module docstring).

    `writes` maps each write method the route serves to whether it needs a token: keys of a
    method that needs one are the caller's (`scope`), so a request without a valid token gets
    the view's own 401; keys of one that needs none (login) are shared and bound to the body.
    A method the route does not serve gets the view's own 405.
    """

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = request.headers.get(HEADER)
        needs_token = writes.get(request.method or "")
        if key is None or needs_token is None:
            return view(request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            message = "Idempotency-Key must be 1-200 visible ASCII characters (a UUID is best)."
            return json_error(400, "invalid_idempotency_key", message, HEADER)
        found = _claim_for(request, key, scope if needs_token else "anonymous")
        if found is None:
            return view(request, *args, **kwargs)
        if found.answer is not None:
            return found.answer
        if found.record_id is None:  # a claim holds either an answer or its key's row
            return view(request, *args, **kwargs)
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            settle(found.record_id, HttpResponse(status=500))
            raise
        settle(found.record_id, response)
        return response

    for attribute in ("csrf_exempt",):
        if hasattr(view, attribute):
            setattr(wrapped, attribute, getattr(view, attribute))
    return wrapped


def document(schema: dict) -> dict:
    """Add the header and its answers to every write operation of an OpenAPI document."""
    parameter = {
        "in": "header",
        "name": HEADER,
        "required": False,
        "schema": {"type": "string", "pattern": _VALID_KEY.pattern},
        "description": (
            "Send the same key (a UUID) with every retry of one write: for 24 hours per user the first "
            "answer is returned again (with `Idempotent-Replayed: true`) and nothing is written twice. "
            "409 while the first request still runs; 422 if the key was used for a different request."
        ),
    }
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method.upper() not in WRITE_METHODS:
                continue
            operation.setdefault("parameters", []).append(parameter)
            responses = operation.setdefault("responses", {})
            for status, description in ((409, "A request with this key is in progress"), (422, "Invalid input")):
                if status not in responses and str(status) not in responses:  # ninja keys them by int
                    responses[status] = {"description": description, **error_ref}
    return schema


@job_policy(queue="low", timeout=300)
def purge_idempotency_records() -> int:
    """Delete keys older than 24 hours: they are no longer honoured."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return deleted
