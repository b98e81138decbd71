"""Errors that carry their HTTP meaning, rendered as problem+json in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ServiceError(Exception):
    """An error a caller can act on: it knows its status, code and title."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def problem(self) -> dict[str, Any]:
        return {
            "type": f"https://returns.example/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"
    title = "Not authenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(ServiceError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class Conflict(ServiceError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidTransition(ServiceError):
    status = 409
    code = "invalid_transition"
    title = "Action not allowed in this state"

    def __init__(self, detail: str, *, state: str, allowed_actions: Sequence[str]) -> None:
        super().__init__(detail, state=state, allowed_actions=list(allowed_actions))


class IdempotencyInProgress(ServiceError):
    status = 409
    code = "idempotency_in_progress"
    title = "A request with this Idempotency-Key is still running"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": "1"}


class IdempotencyMismatch(ServiceError):
    status = 422
    code = "idempotency_mismatch"
    title = "This Idempotency-Key was used for another request"


class VersionMismatch(ServiceError):
    status = 412
    code = "version_mismatch"
    title = "The resource has changed"


class PreconditionRequired(ServiceError):
    status = 428
    code = "precondition_required"
    title = "Precondition required"


class RequestTimeout(ServiceError):
    status = 408
    code = "request_timeout"
    title = "The request was not sent in time"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Connection": "close"}


class HeaderTooLarge(ServiceError):
    status = 431
    code = "header_too_large"
    title = "Request header fields too large"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_error"
    title = "The request is not valid"

    def __init__(self, detail: str, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(detail, errors=list(errors))


class RuleViolation(ServiceError):
    status = 422
    code = "rule_violation"
    title = "The rules refuse this request"

    def __init__(self, detail: str, violations: Sequence[dict[str, str]]) -> None:
        super().__init__(detail, violations=list(violations))


class ServiceUnavailable(ServiceError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": "2"}


class InternalError(ServiceError):
    status = 500
    code = "internal_error"
    title = "Internal server error"
