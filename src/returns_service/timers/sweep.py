"""Act on due deadlines. (Filled in by the timers work of issue 3.)"""

from __future__ import annotations

from returns_service.config import Settings


async def sweep_once_with_settings(settings: Settings) -> int:
    """Act once on every due deadline; answer how many were acted on."""
    del settings
    return 0
