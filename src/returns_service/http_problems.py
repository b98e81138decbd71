"""Every error the service answers, rendered as application/problem+json in one place."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from returns_service.errors import (
    PROBLEM_CONTENT_TYPE,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from returns_service.observability.request_context import current_request_id, note_problem

logger = logging.getLogger(__name__)


class ViolationOut(BaseModel):
    rule: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem; `code` is the stable machine-readable reason."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    violations: list[ViolationOut] | None = Field(
        default=None, description="Every rule that refused the request (rule_violation)."
    )
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Where the request is malformed (validation_error)."
    )
    state: str | None = Field(default=None, description="The current state (invalid_transition).")
    allowed_actions: list[str] | None = Field(
        default=None, description="What the current state allows (invalid_transition)."
    )
    request_id: str | None = Field(
        default=None, description="The request's X-Request-Id: quote it when asking about it."
    )


_DESCRIPTIONS = {
    400: "Bad request",
    401: "No token, or an expired, forged or unsigned token",
    403: "The caller's role may not do this",
    404: "Not found, or not the caller's to see",
    409: "Conflict: the current state does not allow this",
    412: "If-Match names a version that is no longer current",
    413: "The body is larger than 1 MiB",
    415: "The body is not JSON",
    422: "The request is malformed, or the rules refuse it",
    503: "The database is unavailable; retry later",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status documented as problem+json."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in sorted({*statuses, 401, 422, 503})
    }


class ProblemResponse(JSONResponse):
    """problem+json in ASCII: a detail that quotes client text can always be sent."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


def problem_response(error: ServiceError) -> JSONResponse:
    """The problem+json answer to `error`, naming the request it answers."""
    body = error.problem()
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    note_problem(error.code)
    return ProblemResponse(
        body,
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=error.headers or None,
    )


# PostgreSQL's "try again": serialization failure, deadlock, lock wait over lock_timeout;
# and "not now": shutting down or starting up, too many connections.
_RETRY_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})
# Class 08, connection exceptions: the connection failed or broke.
_CONNECTION_SQLSTATE_CLASS = "08"


def _is_connection_failure(error: DBAPIError) -> bool:
    """The database is down, busy or gave up waiting: a 503 to retry, not a 500."""
    return (
        isinstance(error, OperationalError)
        or bool(error.connection_invalidated)
        or getattr(error.orig, "sqlstate", None) in _RETRY_SQLSTATES
        or str(getattr(error.orig, "sqlstate", None)).startswith(_CONNECTION_SQLSTATE_CLASS)
    )


async def _service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    return problem_response(error)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            "loc": list(item.get("loc", ())),
            "msg": str(item.get("msg", "")),
            "type": item.get("type"),
        }
        for item in error.errors()
    ]
    return problem_response(ValidationFailed("the request is not valid", errors))


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path. Starlette's 405 names only the methods of
    the first route that matched the path, though GET and PUT of one path are two routes
    here; asking every route about every method finds them all."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    mapped: ServiceError
    if error.status_code == 400:
        # FastAPI's answer to a JSON body it cannot even decode (not UTF-8): malformed input,
        # answered like any other malformed JSON body.
        mapped = ValidationFailed(
            "the body is not valid JSON",
            [{"loc": ["body"], "msg": str(error.detail), "type": "json_invalid"}],
        )
    elif error.status_code == 404:
        mapped = NotFound("no such resource")
    elif error.status_code == 405:
        mapped = MethodNotAllowed("this method is not allowed here")
    elif error.status_code == 413:
        mapped = PayloadTooLarge("the body is too large")
    elif error.status_code == 415:
        mapped = UnsupportedMediaType("the body must be JSON")
    else:
        phrase = HTTPStatus(error.status_code).phrase
        other = type(
            "HttpError",
            (ServiceError,),
            {
                "status": error.status_code,
                "code": phrase.lower().replace(" ", "_"),
                "title": phrase,
            },
        )
        mapped = other(str(error.detail))
    response = problem_response(mapped)
    if error.headers:
        response.headers.update(error.headers)
    if error.status_code == 405:
        response.headers["Allow"] = allowed_methods(request)
    return response


async def _database_error(_request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, DBAPIError) and not _is_connection_failure(error):
        return await _unexpected_error(_request, error)
    logger.warning("database unavailable: %s", type(error).__name__)
    return problem_response(ServiceUnavailable("the database is unavailable; retry shortly"))


def unexpected_error_response(error: Exception) -> JSONResponse:
    logger.error("unexpected error", exc_info=error)
    return problem_response(InternalError("something went wrong on our side"))


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    return unexpected_error_response(error)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(ConnectionError, _database_error)
    app.add_exception_handler(TimeoutError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
