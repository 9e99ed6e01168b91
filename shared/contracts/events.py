"""Every event type Atiende publishes, with its payload model. docs/architecture.md lists
who publishes and who consumes each one; keep the two in step.

Payloads carry what consumers need to act without calling back (event-carried state), since a
service never reads another's tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeadlineRule(_Payload):
    """How a case type's response deadline is computed (R4.2: the type carries the rule)."""

    unit: Literal["business_days"] = "business_days"
    amount: int


class CaseTypeRef(_Payload):
    code: str
    name: str
    deadline: DeadlineRule


class Contact(_Payload):
    name: str
    email: str
    phone: str | None = None


class CaseCreated(_Payload):
    """intake → all: a case was accepted (R4.3)."""

    case_id: uuid.UUID
    number: str
    tenant_country: str
    tenant_timezone: str
    language: Literal["es", "en"]
    case_type: CaseTypeRef
    subject: str
    description: str
    contact: Contact
    responsible_email: str
    responsible_id: uuid.UUID | None = None
    responsible_name: str | None = None
    project: str | None = None
    created_by: uuid.UUID | None = None
    priority: str
    status: str
    created_at: datetime


class CaseDeadlineSet(_Payload):
    """workflow → all: the response deadline computed from the type's rule and the calendar."""

    case_id: uuid.UUID
    due_at: datetime
    due_date: date
    business_days: int
    calendar_country: str


class CaseOverdue(_Payload):
    """workflow → all: a case passed its deadline without being finished (R4.8, R4.9)."""

    case_id: uuid.UUID
    due_at: datetime


class NotificationSent(_Payload):
    """notifier → all: an e-mail (later SMS, in-app) was accepted by the provider."""

    delivery_id: uuid.UUID
    case_id: uuid.UUID | None
    channel: Literal["email", "sms", "in_app"]
    template: str
    recipient_role: str
    sent_at: datetime


class UserProfile(_Payload):
    """intake → all: a user was created or changed (no credentials). Others keep a directory
    (notifier: addresses and phones; workflow: manager chain and escalation subscriptions)."""

    user_id: uuid.UUID
    email: str
    name: str
    mobile: str | None
    roles: list[str]
    manager_id: uuid.UUID | None
    projects: list[str]
    escalation_subscriptions: list[str]
    language: Literal["es", "en"]
    active: bool


class UserInvited(_Payload):
    """intake → notifier: e-mail a one-time link to set a password (R4.1: credentials reach the
    user by e-mail, never a plain password). The link expires and works once."""

    user_id: uuid.UUID
    email: str
    name: str
    language: Literal["es", "en"]
    tenant_name: str
    setup_url: str
    expires_at: datetime


EVENT_TYPES: dict[str, type[_Payload]] = {
    "user.upserted.v1": UserProfile,
    "user.invited.v1": UserInvited,
    "case.created.v1": CaseCreated,
    "case.deadline_set.v1": CaseDeadlineSet,
    "case.overdue.v1": CaseOverdue,
    "notification.sent.v1": NotificationSent,
}


def parse_data(event_type: str, data: dict[str, Any]) -> _Payload:
    """Validate an event's data against its contract (raises on unknown type or bad payload)."""
    try:
        model = EVENT_TYPES[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None
    return model.model_validate(data)
