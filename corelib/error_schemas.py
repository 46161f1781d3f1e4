"""The API's one error shape as django-ninja schemas, for the OpenAPI document (corelib.errors answers it)."""

from ninja import Schema


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    """The one error shape, for the OpenAPI document."""

    error: ErrorDetail
