"""JSON log lines, one per event, from structlog and from every stdlib logger alike.

Every line carries the request id of the request it was written for. A last processor blanks
anything shaped like a credential (a JWT, a bearer header, a webhook secret) wherever it
appears, as a net under the rule that such values are never handed to a logger at all.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from returns_service.observability.request_context import current_request_id

_CREDENTIAL = re.compile(
    r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # a JWT (header starts with {")
    r"|(?i:bearer)\s+[^\s\"',;]+"  # an Authorization value
    r"|whsec_[A-Za-z0-9+/=]+"  # a Standard Webhooks secret
)
REDACTED = "[redacted]"
# Loggers that write URLs or headers as they go: a webhook URL may carry a credential in its
# query string, so they speak only when something is wrong.
_CHATTY_LOGGERS = ("httpx", "httpcore", "uvicorn.access", "hpack", "alembic.runtime.plugins")


def _add_request_id(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    if "request_id" not in event:
        request_id = current_request_id()
        if request_id is not None:
            event["request_id"] = request_id
    return event


def _add_trace_id(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """The current trace, when tracing is on (checked without importing OpenTelemetry)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event.setdefault("trace_id", format(context.trace_id, "032x"))
    return event


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _CREDENTIAL.sub(REDACTED, value)
    if isinstance(value, MutableMapping):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def redact_credentials(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    return {key: _scrub(value) for key, value in event.items()}


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="at"),
        _add_request_id,
        _add_trace_id,
    ]


def configure_logging(level: str, stream: IO[str] | None = None) -> None:
    """Send every log record of this process to `stream` (stderr) as one JSON line.

    Called once per process by the commands (and by each `serve` worker), never by
    `create_app`, so that an app built in a test leaves the test runner's logging alone.
    """
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_credentials,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        # uvicorn's own handlers (if it set any) would write plain text beside ours.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def structured_logger(name: str) -> Any:
    """A structlog logger that writes through the stdlib logger `name`: its lines go where
    `configure_logging` sent them, and nowhere (cheaply) when logging was not configured."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        wrapper_class=structlog.stdlib.BoundLogger,
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
    )
