"""Failed-attempt limits over a sliding window: after ``max_failures`` failures inside ``window``
the next attempt is refused with 429 and ``Retry-After`` (seconds until the oldest counted failure
leaves the window). Plain Python, no I/O: the failures themselves are rows in intake's
``failed_attempts`` table (``services/intake/adapters/attempt_tables.py``), so that every replica
counts the same attempts.

Used by customer self-service (R3.5), log in (per client address), password set-up and API keys
(per client address and per key prefix)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.refusals import Refused, Text

TOO_MANY: Text = ("Demasiados intentos", "Too many attempts")


@dataclass(frozen=True)
class Limit:
    max_failures: int
    window: timedelta

    @classmethod
    def of(cls, max_failures: int, window_minutes: float) -> Limit:
        return cls(max_failures, timedelta(minutes=window_minutes))


def retry_after(failures: Sequence[datetime], now: datetime, limit: Limit) -> int | None:
    """Seconds until one more attempt is allowed, or None when it is allowed now. ``failures``:
    the failed attempts inside the window, oldest first."""
    if len(failures) < limit.max_failures:
        return None
    # Once this one leaves the window, fewer than max_failures remain.
    freeing = failures[len(failures) - limit.max_failures]
    return max(1, math.ceil((freeing + limit.window - now).total_seconds()))


def too_many_text(wait_s: int) -> Text:
    minutes = max(1, math.ceil(wait_s / 60))
    return (f"Hubo demasiados intentos fallidos. Intente de nuevo en {minutes} minuto(s).",
            f"There were too many failed attempts. Try again in {minutes} minute(s).")


def too_many(wait_s: int, code: str = "too-many-attempts") -> Refused:
    """429 with ``Retry-After``: the caller waits ``wait_s`` seconds before trying again."""
    return Refused(429, code, TOO_MANY, too_many_text(wait_s), headers={"Retry-After": str(wait_s)})
