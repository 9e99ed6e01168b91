"""The one "now" every service reads: the real time, moved by tests.

Deadlines, clocks and timers are decided against ``now()``; a test moves time with
``advance(timedelta(...))`` or ``travel_to(instant)`` instead of sleeping, and ``reset()`` puts it
back (the ``clock`` fixture in tests/conftest.py does so after each test). Production code never
calls the movers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def advance(by: timedelta) -> datetime:
    """Move time forward (or back) by ``by``; returns the new now."""
    global _offset
    _offset += by
    return now()


def travel_to(instant: datetime) -> datetime:
    """Make ``now()`` answer ``instant`` from here on (time keeps running from there)."""
    global _offset
    _offset = instant.astimezone(UTC) - datetime.now(UTC)
    return now()


def reset() -> None:
    global _offset
    _offset = timedelta(0)
