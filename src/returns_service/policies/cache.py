"""Shop policies kept in memory per process, keyed by version, so that a request need not
read its shop's policy every time.

Safe across processes because nothing is trusted by age: a policy's `version` goes up with
every write, and a request learns the version in force from the statement that locks or reads
its return (the return's repository selects it alongside). An entry is used only when its
version is that one; otherwise the policy is read again and the entry replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.rules.facts import ReturnPolicy

_SEEN = "returns_service.policy_versions"
_WRITTEN = "returns_service.policies_written"
# A shop without a policy row has the defaults, at version 0.
DEFAULTS_VERSION = 0
# Beyond this many shops the cache starts over rather than grow without bound.
MAX_SHOPS = 10_000


@dataclass(frozen=True)
class CachedPolicy:
    version: int
    policy: ReturnPolicy
    return_address: dict[str, Any] | None


_policies: dict[str, CachedPolicy] = {}


def saw_version(session: AsyncSession, shop_id: str, version: int | None) -> None:
    """Remember, for this session, the version of the shop's policy its transaction saw."""
    seen: dict[str, int] = session.info.setdefault(_SEEN, {})
    seen[shop_id] = DEFAULTS_VERSION if version is None else version


def writes_policy(session: AsyncSession, shop_id: str) -> None:
    """This transaction writes the shop's policy: forget the version it saw, and never cache
    what it reads of that policy (a rollback would leave a version number in the cache that
    another write may later commit with other content)."""
    session.info.get(_SEEN, {}).pop(shop_id, None)
    written: set[str] = session.info.setdefault(_WRITTEN, set())
    written.add(shop_id)


def cached(session: AsyncSession, shop_id: str) -> CachedPolicy | None:
    """The cached policy, if this session saw its version and the cache holds that version."""
    version = session.info.get(_SEEN, {}).get(shop_id)
    entry = _policies.get(shop_id)
    if version is None or entry is None or entry.version != version:
        return None
    return entry


def store(session: AsyncSession, shop_id: str, entry: CachedPolicy) -> CachedPolicy:
    if shop_id in session.info.get(_WRITTEN, ()):
        return entry
    if len(_policies) >= MAX_SHOPS:
        _policies.clear()
    _policies[shop_id] = entry
    saw_version(session, shop_id, entry.version)
    return entry
