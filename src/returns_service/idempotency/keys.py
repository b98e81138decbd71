"""Idempotency-Key on a POST: claim the key, replay its stored answer, or refuse.

The protocol, run by `TransactionalRoute` around each authenticated POST that sends the header:

1. `begin`: claim (caller, key) in a short transaction of its own, committed before the handler
   runs, so a second request with the same key sees the claim at once. A key that exists
   answers instead of the handler: its stored response again (plus `Idempotent-Replayed:
   true`), 422 `idempotency_mismatch` for another method, path or body, 409
   `idempotency_in_progress` while its first request still runs. A claim whose lease lapsed
   belonged to a request that died before committing anything, so it is taken over.
2. `finish`: a 2xx answer is written into the claim in the request's own session, so it
   commits in the same transaction as the change it answers, or not at all. The write is
   fenced by the claim's token: a request that lost its claim rolls its change back.
3. `release`: any other outcome (an error, a 4xx, a 5xx) gives the claim back, so a retry with
   the same key acts afresh. Refusals are not stored: the request's transaction rolled back,
   so nothing changed and acting again cannot act twice; a retry answers from the current
   state (a refreshed token, a fixed If-Match, a return that has moved on) instead of a stale
   refusal for a day; and the refusal path writes nothing. The price: after a 4xx, the same
   key with another body is acted on instead of being refused as a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.auth import Caller, decode_token
from returns_service.config import Settings
from returns_service.errors import IdempotencyInProgress, IdempotencyMismatch, Unauthenticated
from returns_service.idempotency import repository
from returns_service.models import IdempotencyKeyRow
from returns_service.models.base import utcnow

logger = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# 1 to 255 visible ASCII characters (RFC 5234 VCHAR).
KEY_PATTERN = r"^[!-~]+$"
KEY_MAX_LENGTH = 255
_KEY = re.compile(r"[!-~]{1,255}")
# The headers a replay repeats: what a client reads from the first answer besides its body.
STORED_HEADERS = ("Content-Type", "ETag", "Location")
_SCOPE_MAX_LENGTH = 255
_SHOP_ID_MAX_LENGTH = 64
# Each attempt settles unless a concurrent request changed the key between our two reads.
_CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class Claim:
    """This request's hold on its key, until its answer is stored or the claim given back."""

    scope: str
    key: str
    token: str
    sessionmaker: async_sessionmaker[AsyncSession]


async def begin(request: Request) -> Claim | Response | None:
    """Claim the request's key; or the stored answer to replay; None when keys do not apply.

    Raises IdempotencyMismatch or IdempotencyInProgress when the key refuses this request.
    """
    key = request.headers.get(KEY_HEADER)
    if key is None or not _KEY.fullmatch(key):
        return None  # no key; or a malformed one, which the route's validation answers 422
    settings: Settings = request.app.state.settings
    caller = _caller_of(request, settings)
    if caller is None:
        return None  # the route answers 401 before anything acts
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    scope = scope_of(caller)
    shop_id = (
        caller.shop_id if caller.shop_id and len(caller.shop_id) <= _SHOP_ID_MAX_LENGTH else None
    )
    fingerprint = request_fingerprint(
        request.method, request.url.path, request.url.query, await request.body()
    )
    lease = timedelta(seconds=settings.idempotency_lease_seconds)
    ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
    for _attempt in range(_CLAIM_ATTEMPTS):
        token = uuid.uuid4().hex
        now = utcnow()
        async with sessionmaker() as session, session.begin():
            if await repository.insert_claim(
                session,
                scope=scope,
                key=key,
                shop_id=shop_id,
                fingerprint=fingerprint,
                claim_token=token,
                now=now,
                lease_until=now + lease,
                expires_at=now + ttl,
            ):
                return Claim(scope, key, token, sessionmaker)
            row = await repository.get_key(session, scope, key)
            if row is None:
                continue  # given back meanwhile
            if row.expires_at <= now:
                await repository.delete_expired_key(session, scope=scope, key=key, now=now)
                continue  # expired, not yet swept: the key is free again
            if row.fingerprint != fingerprint:
                raise IdempotencyMismatch(
                    f"the Idempotency-Key {key!r} was used for another request "
                    "(method, path or body); use a new key for a new request"
                )
            if row.status == repository.COMPLETED:
                return _replay(row)
            if row.lease_until is not None and row.lease_until < now:
                if await repository.take_over_claim(
                    session,
                    scope=scope,
                    key=key,
                    old_token=row.claim_token,
                    new_token=token,
                    now=now,
                    lease_until=now + lease,
                ):
                    return Claim(scope, key, token, sessionmaker)
                continue
        break
    raise IdempotencyInProgress(
        f"a request with the Idempotency-Key {key!r} is still running; retry shortly"
    )


async def finish(session: AsyncSession, claim: Claim | None, response: Response) -> None:
    """Store a successful answer in the request's own session: it commits with the change."""
    if claim is None:
        return
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        # A streamed answer cannot be replayed: give the key back with the same commit.
        await repository.delete_claim(
            session, scope=claim.scope, key=claim.key, claim_token=claim.token
        )
        return
    headers = {name: response.headers[name] for name in STORED_HEADERS if name in response.headers}
    if not await repository.store_response(
        session,
        scope=claim.scope,
        key=claim.key,
        claim_token=claim.token,
        status=response.status_code,
        headers=headers,
        body=body,
    ):
        # Our lease lapsed and another request took the key over: it acts, we must not.
        raise IdempotencyInProgress(
            f"a request with the Idempotency-Key {claim.key!r} is still running; retry shortly"
        )


async def release(claim: Claim | None) -> None:
    """Give the claim back after an answer that changed nothing, so a retry can act.

    Best effort: if the database refuses now, the claim's lease lapses and a retry takes it.
    Call it after the request's own transaction has ended (SQLite has one writer).
    """
    if claim is None:
        return
    try:
        async with claim.sessionmaker() as session, session.begin():
            await repository.delete_claim(
                session, scope=claim.scope, key=claim.key, claim_token=claim.token
            )
    except Exception:
        logger.warning(
            "could not give back an Idempotency-Key claim; its lease will lapse", exc_info=True
        )


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """sha256 of what makes two requests the same: method, path, query and body.

    A JSON body is compared by meaning (key order and spacing do not matter).
    """
    digest = hashlib.sha256()
    for part in (method.upper(), path, query):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    digest.update(_canonical_body(body))
    return digest.hexdigest()


def _canonical_body(body: bytes) -> bytes:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return b"raw:" + body
    # ASCII escapes: any string JSON can spell has one, a lone surrogate included.
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return b"json:" + canonical.encode("ascii")


def _caller_of(request: Request, settings: Settings) -> Caller | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return None
    try:
        return decode_token(credentials.strip(), settings.jwt_secret)
    except Unauthenticated:
        return None


def scope_of(caller: Caller) -> str:
    """The caller's scope as one column's text: a JSON array of (role, sub, shop_id), which no
    two different callers share (a joined "role:sub:shop" made "m:x"+"y" equal "m"+"x:y")."""
    scope = json.dumps(list(caller.idempotency_scope), ensure_ascii=True, separators=(",", ":"))
    if len(scope) <= _SCOPE_MAX_LENGTH:
        return scope
    return "sha256:" + hashlib.sha256(scope.encode()).hexdigest()


def _replay(row: IdempotencyKeyRow) -> Response:
    headers = {**(row.response_headers or {}), REPLAYED_HEADER: "true"}
    return Response(
        content=row.response_body or b"",
        status_code=row.response_status or 200,
        headers=headers,
    )
