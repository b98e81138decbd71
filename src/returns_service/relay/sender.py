"""One HTTP attempt of one delivery, signed as Standard Webhooks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from returns_service.observability.request_context import REQUEST_ID_HEADER
from returns_service.relay.backoff import retry_after_seconds
from returns_service.relay.dispatch import Claim, Outcome
from returns_service.relay.guard import TargetRefused

USER_AGENT = "returns-service-webhooks/1"
_ERROR_SNIPPET_BYTES = 300
_RETRY_AFTER_STATUSES = frozenset({429, 503})


def signed_headers(claim: Claim, at: datetime) -> dict[str, str]:
    """webhook-id is the delivery's id: the same on every attempt, so receivers can dedupe;
    X-Request-Id names the request whose change the event tells of."""
    signature: str = Webhook(claim.secret).sign(claim.delivery_id, at, claim.body)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": claim.delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    if claim.request_id is not None:
        # The request that made the event (not signed: it names, it does not vouch).
        headers[REQUEST_ID_HEADER.lower()] = claim.request_id
    return headers


async def send(client: httpx.AsyncClient, claim: Claim, timeout_seconds: float) -> Outcome:
    """POST the event; any answer, error or timeout becomes an Outcome, never an exception."""
    at = datetime.now(UTC)
    try:
        async with asyncio.timeout(timeout_seconds):
            async with client.stream(
                "POST", claim.url, content=claim.body.encode(), headers=signed_headers(claim, at)
            ) as response:
                snippet = b""
                if not response.is_success:
                    async for chunk in response.aiter_bytes():
                        snippet += chunk
                        if len(snippet) >= _ERROR_SNIPPET_BYTES:
                            break
    except TimeoutError:
        return Outcome(error=f"no answer within {timeout_seconds:g}s")
    except TargetRefused as error:
        return Outcome(error=str(error), permanent=True)
    except (httpx.HTTPError, OSError) as error:
        return Outcome(error=f"{type(error).__name__}: {error}")
    if response.is_success:
        return Outcome(status_code=response.status_code)
    retry_after = (
        retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
        if response.status_code in _RETRY_AFTER_STATUSES
        else None
    )
    text = snippet[:_ERROR_SNIPPET_BYTES].decode("utf-8", "replace")
    return Outcome(
        status_code=response.status_code,
        error=f"HTTP {response.status_code}: {text}".strip(),
        retry_after_seconds=retry_after,
    )
