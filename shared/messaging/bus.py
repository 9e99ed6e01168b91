"""The port every bus adapter implements, and the errors handlers raise to steer retries."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.contracts.envelope import Envelope


@dataclass(frozen=True)
class OutgoingMessage:
    event_id: uuid.UUID
    type: str  # the routing key
    body: bytes
    headers: dict[str, Any] | None = None  # AMQP headers (the trace context, shared/tracing.py)


@dataclass
class DeadLetter:
    id: str  # the event id
    type: str
    attempts: int
    error: str
    body: bytes = field(repr=False)


class PermanentError(Exception):
    """A handler error that retrying cannot fix (bad payload, rule violation): straight to the DLQ."""


class Retryable(Exception):
    """A handler error expected to pass (a provider busy): retried through the retry queues."""


class NotYet(Retryable):
    """What the event is about has not reached this service yet (events from different services
    can overtake each other): retried in place for a moment first, then like any Retryable."""


MessageHandler = Callable[[Envelope], Awaitable[None]]


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, messages: list[OutgoingMessage]) -> None:
        """Publish and wait until the broker has taken every message (or raise)."""

    async def declare(self, service: str, event_types: list[str]) -> None:
        """Declare the service's queue and bindings without consuming (done at deploy time)."""

    async def subscribe(self, service: str, event_types: list[str], handler: MessageHandler) -> None:
        """Declare the service's queue bound to ``event_types`` and start consuming."""

    async def listen(self, name: str, patterns: list[str], handler: MessageHandler) -> None:
        """A subscription of this process alone: every replica that listens gets every event
        matching ``patterns`` (topic patterns, e.g. ``catalog.#``) on a transient queue
        ``<ns>.<name>`` (exclusive, auto-delete). No inbox, no retry: for idempotent effects
        such as clearing a cache; a failing handler is logged."""

    async def consumer_count(self, service: str) -> int:
        """Consumers the broker sees on the service's queue (readiness)."""

    async def dead_letters(self, service: str, limit: int = 100) -> list[DeadLetter]: ...

    async def replay_dead_letters(self, service: str, ids: list[str] | None = None) -> int:
        """Send dead letters (all, or those ids) back to the service's queue; returns the count."""


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def headers_for_retry(attempt: int, exc: BaseException) -> dict[str, Any]:
    return {"x-atiende-attempt": attempt, "x-atiende-error": describe_error(exc)}
