"""Idempotency-Key on every authenticated POST (Stripe's semantics, the IETF draft's header).

`keys` holds the protocol (begin, finish, release) that `db.TransactionalRoute` runs around
each request; `route` decides which routes take the header and documents it in the spec;
`repository` holds the SQL; `sweep` removes expired keys (run by `timers.sweep.sweep_once`).
"""

from returns_service.idempotency.keys import (
    KEY_HEADER,
    REPLAYED_HEADER,
    Claim,
    begin,
    finish,
    release,
)
from returns_service.idempotency.repository import delete_expired_idempotency_keys
from returns_service.idempotency.route import declare_idempotency_key, takes_idempotency_key
from returns_service.idempotency.sweep import remove_expired_idempotency_keys

__all__ = [
    "KEY_HEADER",
    "REPLAYED_HEADER",
    "Claim",
    "begin",
    "declare_idempotency_key",
    "delete_expired_idempotency_keys",
    "finish",
    "release",
    "remove_expired_idempotency_keys",
    "takes_idempotency_key",
]
