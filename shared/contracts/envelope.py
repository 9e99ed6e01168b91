"""The message envelope: CloudEvents 1.0 attributes plus tenant, correlation and causation.

``type`` carries the version (``case.created.v1``): a breaking change adds ``.v2`` beside
``.v1`` and consumers accept both. The envelope ``id`` becomes the AMQP ``message_id`` and is
the key consumers deduplicate on (inbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared import clock


def _now() -> datetime:
    return clock.now()


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    specversion: str = "1.0"
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    source: str  # "atiende/<service>"
    type: str  # "<aggregate>.<fact>.v<N>", also the routing key
    subject: str | None = None  # usually the aggregate id (case id)
    time: datetime = Field(default_factory=_now)
    datacontenttype: str = "application/json"
    tenant: str
    correlationid: str | None = None
    causationid: str | None = None
    # The event's place in its subject's history as the source numbers it (for a case: the case's
    # version after this change, 1 for case.created). Consumers apply a subject's events in this
    # order (shared/messaging/ordering.py); None: the event is not ordered.
    sequence: int | None = None
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        return cls.model_validate_json(body)

    def follow(self, *, source: str, type: str, data: dict[str, Any], subject: str | None = None) -> Envelope:
        """A new event caused by this one: same tenant and correlation, causation = this id."""
        return Envelope(source=source, type=type, subject=subject if subject is not None else self.subject,
                        tenant=self.tenant, correlationid=self.correlationid or str(self.id),
                        causationid=str(self.id), data=data)
