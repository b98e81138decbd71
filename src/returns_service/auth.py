"""Bearer tokens to callers, and who may see what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeGuard

import jwt
from fastapi import Depends, Request, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from returns_service.errors import Forbidden, Unauthenticated
from returns_service.observability.request_context import note_caller_role
from returns_service.rules.vocabulary import Role
from returns_service.storable_text import is_storable

JWT_ALGORITHM = "HS256"
CALLER_ROLES = frozenset({Role.BUYER, Role.MERCHANT, Role.PLATFORM, Role.STOREFRONT})


@dataclass(frozen=True)
class Caller:
    role: Role
    id: str
    shop_id: str | None = None

    @property
    def idempotency_scope(self) -> tuple[str, str, str | None]:
        """Idempotency keys and similar per-caller state are keyed by this: each part apart,
        so that no two callers share a scope however their ids are spelled."""
        return (self.role.value, self.id, self.shop_id)

    def can_see_shop(self, shop_id: str) -> bool:
        if self.role is Role.MERCHANT:
            return self.shop_id == shop_id
        return self.role in (Role.PLATFORM, Role.STOREFRONT)

    def can_see_order(self, shop_id: str, buyer_id: str) -> bool:
        if self.role is Role.BUYER:
            return self.id == buyer_id
        return self.can_see_shop(shop_id)

    def require(self, *roles: Role) -> None:
        """Refuse a known caller whose role may not take this action."""
        if self.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise Forbidden(f"a {self.role.value} may not do this; allowed: {allowed}")


SYSTEM_CALLER = Caller(role=Role.SYSTEM, id="system")

_bearer = HTTPBearer(auto_error=False, description="A JWT signed with HS256.")


# Ids are stored (timeline actors, shop keys) in 64-character columns.
MAX_CLAIM_LENGTH = 64
# Far above any token this service's issuers sign; longer is refused before it is decoded.
MAX_TOKEN_LENGTH = 4096


def _is_claim_text(value: object) -> TypeGuard[str]:
    """Printable text a column can hold: no control characters, NUL or lone surrogates."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_CLAIM_LENGTH
        and value.isprintable()
        and is_storable(value)
        and value == value.strip()
    )


def _verified_claims(token: str, secret: str) -> dict[str, object]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("the token has expired") from error
    except jwt.InvalidTokenError as error:
        raise Unauthenticated("the token is not valid") from error
    except (OverflowError, ValueError, TypeError, RecursionError) as error:
        # A signed "exp": Infinity or 1e400 overflows inside the library's own checks.
        raise Unauthenticated("the token is not valid") from error
    return claims


# Tokens verified lately, by (secret, token): a caller sends the same token many times, and
# verifying it (base64, JSON, HMAC, claims) is a tenth of a small request's CPU. An entry is
# used only while its `exp` is ahead (the check PyJWT makes: expired when exp <= now); only
# tokens that passed every check are kept, so nothing refused is ever accepted from here.
_verified: dict[tuple[str, str], tuple[Caller, float]] = {}
# Beyond this many tokens the cache starts over rather than grow without bound.
MAX_VERIFIED_TOKENS = 10_000


def decode_token(token: str, secret: str) -> Caller:
    """Verify the token and read the caller; every failure is a 401.

    Every claim this service reads is checked for type, length and characters, for every
    role: a signed token may still carry any JSON there.
    """
    key = (secret, token)
    known = _verified.get(key)
    if known is not None:
        caller, expires = known
        if expires > datetime.now(UTC).timestamp():
            return caller
        del _verified[key]  # expired: verified again below, which refuses it
    caller, expires = _read_token(token, secret)
    if len(_verified) >= MAX_VERIFIED_TOKENS:
        _verified.clear()
    _verified[key] = (caller, expires)
    return caller


def _read_token(token: str, secret: str) -> tuple[Caller, float]:
    """The caller a token names and when it expires (`exp`, seconds since the epoch)."""
    claims = _verified_claims(token, secret)
    role_name, subject = claims.get("role"), claims.get("sub")
    shop_id = claims.get("shop_id")
    if not isinstance(role_name, str) or role_name not in {role.value for role in CALLER_ROLES}:
        raise Unauthenticated("the token names no known role")
    if not _is_claim_text(subject):
        raise Unauthenticated("the token names no subject")
    role = Role(role_name)
    if shop_id is not None and not _is_claim_text(shop_id):
        raise Unauthenticated("the token's shop_id is not a shop id")
    if role is Role.MERCHANT and shop_id is None:
        raise Unauthenticated("a merchant token must name its shop_id")
    # PyJWT checked `exp` is there and an integer (an int(), as it read it, cannot fail).
    expires = int(claims["exp"])  # type: ignore[call-overload]
    return Caller(role=role, id=subject, shop_id=shop_id), expires


def issue_token(caller: Caller, secret: str, ttl_seconds: int) -> str:
    """A token `decode_token` reads back as this caller, valid for `ttl_seconds`.

    For operators and newcomers (`returns-service token`): in production the platform's own
    identity service issues tokens with the same claims.
    """
    if caller.role not in CALLER_ROLES:
        raise ValueError(f"no token is issued for the {caller.role.value} role")
    if not _is_claim_text(caller.id):
        raise ValueError(f"a subject is 1 to {MAX_CLAIM_LENGTH} printable characters")
    if caller.shop_id is not None and not _is_claim_text(caller.shop_id):
        raise ValueError(f"a shop id is 1 to {MAX_CLAIM_LENGTH} printable characters")
    if caller.role is Role.MERCHANT and caller.shop_id is None:
        raise ValueError("a merchant token must name its shop")
    if ttl_seconds < 1:
        raise ValueError("the lifetime must be at least one second")
    claims: dict[str, object] = {
        "sub": caller.id,
        "role": caller.role.value,
        "exp": datetime.now(UTC) + timedelta(seconds=ttl_seconds),
    }
    if caller.shop_id is not None:
        claims["shop_id"] = caller.shop_id
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required")
    secret: str = request.app.state.settings.jwt_secret
    caller = decode_token(credentials.credentials, secret)
    note_caller_role(caller.role.value)
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def allow(*roles: Role) -> params.Depends:
    """A route dependency: a caller whose role may never do this is refused (403) before the
    body is validated, so what it sent does not matter (a buyer's PUT of an order with `{}` is
    403, not 422). The use case checks again; this only answers first."""

    async def role_may_do_this(caller: CurrentCaller) -> None:
        caller.require(*roles)

    return params.Depends(role_may_do_this)
