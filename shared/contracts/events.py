"""Every event type Atiende publishes, with its payload model. docs/architecture.md lists
who publishes and who consumes each one; keep the two in step.

Payloads carry what consumers need to act without calling back (event-carried state), since a
service never reads another's tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeadlineRule(_Payload):
    """How a case type's response deadline is computed (R4.2: the type carries the rule)."""

    unit: Literal["business_days", "business_hours"] = "business_days"
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
    explicit_due_date: date | None = None  # an admin's deadline instead of the type's rule
    follow_up_of: uuid.UUID | None = None
    channel: str | None = None
    area: str | None = None
    party_id: uuid.UUID | None = None
    priority: str
    status: str
    created_at: datetime
    # The tenant's business calendar version when the case was entered (catalog.calendar_changed):
    # workflow waits until its copy is at least that new, so a calendar change applies to every
    # case entered after it. None: the tenant has no calendar of its own (country defaults).
    calendar_version: int | None = None


class CaseDeadlineSet(_Payload):
    """workflow → all: the response deadline computed from the type's rule and the calendar."""

    case_id: uuid.UUID
    due_at: datetime
    due_date: date
    business_days: int  # business days from entry to the due date (also for a business-hours rule)
    calendar_country: str
    deadline: DeadlineRule | None = None  # the rule applied (None from older publishers)


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


class UserSessionRevoked(_Payload):
    """intake → every service that checks tokens: this access token (its ``jti``) no longer works
    (logout). Deactivation and role changes travel as ``user.upserted.v1``."""

    user_id: uuid.UUID
    token_id: str
    expires_at: datetime
    at: datetime


# -- catalog ("mantenedores", R4.2): admins change them in intake; others keep copies ----------
# Each event carries the entry's whole current state and its version (1, 2, … per entry):
# a consumer keeps the highest version it has seen and ignores older ones.
class _CatalogEntry(_Payload):
    code: str
    name_es: str
    name_en: str
    active: bool
    version: int


class ChannelChanged(_CatalogEntry):
    """intake → all: an intake channel (phone, e-mail, letter, social networks, in person, web…)
    was created or changed (R4.2: the list is kept by admins)."""


class AreaChanged(_CatalogEntry):
    """intake → all: an area (responsible team, R3.2) and its head user."""

    head_user_id: uuid.UUID | None


class ProjectChanged(_CatalogEntry):
    """intake → all: a project or business line (R3.5, R4.4: meter, packaged, bulk gas;
    real-estate developments). ``business_line``: the gas line triage applies (R3.5: meter
    customers file their follow-ups themselves); None for projects without one."""

    business_line: Literal["meter", "packaged", "bulk"] | None = None


class CategoryChanged(_CatalogEntry):
    """intake → all: a node of the category tree (up to three levels, R3.2). ``code`` is the
    node's own code; ``path`` the codes from the root joined by ``/``."""

    id: uuid.UUID
    path: str
    parent_path: str | None
    level: int


class PinnedFields(_Payload):
    """What a typified case kind fixes (R3.2); None: not pinned."""

    category: str | None = None  # category path, e.g. "medidor/cobranza/gestion-cobranza"
    area: str | None = None  # responsible team (area code)
    priority: Literal["low", "normal", "high"] | None = None
    document_class: str | None = None


class CaseTypeChanged(_CatalogEntry):
    """intake → all: a case type and its rules (R4.2 deadline rule, R3.2 channels and pinned
    fields, R3.1 follow-up and its kind, R1.2 attachments to finish, R2.3 interaction required)."""

    deadline: DeadlineRule
    allowed_channels: list[str] | None  # None: every active channel
    pinned: PinnedFields
    default_priority: Literal["low", "normal", "high"]
    is_follow_up: bool
    requires_attachments_to_finish: bool
    required_fields: list[str]
    projects: list[str] | None  # None: every project of the tenant
    requires_interaction: bool = False  # R2.3: its cases go under an interaction
    # R3.1/R3.5: the follow-up kind triage reads for a follow-up type (None: not one, or unnamed).
    follow_up_kind: Literal["late_response", "disagreement", "solution_not_executed", "delay_enabling_service",
                            "delay_reconnecting_supply", "collections_management"] | None = None


class ClosedDay(_Payload):
    date: date
    name: str | None = None


class CalendarChanged(_Payload):
    """intake → workflow (and all): a tenant's business calendar: country (national holidays),
    time zone, extra closed days and working hours (ISO weekdays, local start and end)."""

    country: str
    timezone: str
    extra_closed_days: list[ClosedDay]
    work_days: list[int]
    work_start: time
    work_end: time
    version: int


class PartyUpserted(_Payload):
    """intake → reporting: a party (customer, prospect, stakeholder, owner…) was created or
    changed (R2.1, R2.8); reporting keeps a copy to report per prospect or stakeholder (R2.9).
    ``restricted``/``shared_with``: R2.7, so a copy can hide it from users it is not shared with."""

    party_id: uuid.UUID
    kind: str
    internal: bool
    name: str
    national_id: str | None
    restricted: bool
    shared_with: list[uuid.UUID]
    active: bool
    source: str
    created_at: datetime
    updated_at: datetime


class AssetUpserted(_Payload):
    """intake → reporting: an asset (policy, supply, property, product) was created or changed,
    by a user or by the billing import (supplies, R2.1); reports per supply (R2.9) use it."""

    asset_id: uuid.UUID
    kind: str
    code: str
    name: str
    party_id: uuid.UUID | None
    active: bool
    source: str
    created_at: datetime
    updated_at: datetime


class CaseTransition(_Payload):
    """intake → all: a case changed state by an action (R4.6). One payload for
    case.executed / case.paused / case.resumed / case.finished / case.reopened."""

    case_id: uuid.UUID
    status_from: str
    status_to: str
    by: uuid.UUID | None
    by_name: str | None
    at: datetime
    text: str | None = None  # what was done, the closing comment, or the reason
    responsible_id: uuid.UUID | None = None


class CaseCommented(_Payload):
    """intake → all: an internal comment (R4.6); the responsible is notified (R4.7)."""

    case_id: uuid.UUID
    text: str
    by: uuid.UUID | None
    by_name: str | None
    at: datetime
    responsible_id: uuid.UUID | None = None


class CaseMailRequested(_Payload):
    """intake → notifier: send an e-mail about a case (R4.6 "send mail", optionally with its details)."""

    case_id: uuid.UUID
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    include_details: bool
    by: uuid.UUID | None
    by_name: str | None
    at: datetime


class CasePriorityChanged(_Payload):
    """intake → all: R0.4/R0.5 — who changed which priority, when and why; ``notify`` names the
    roles to tell by the scheme of the new level (responsible, manager, area_head)."""

    case_id: uuid.UUID
    old: str
    new: str
    raised: bool
    reason: str | None
    reason_text: str | None
    notify: list[str]
    by: uuid.UUID | None
    by_name: str | None
    at: datetime
    responsible_id: uuid.UUID | None = None
    area: str | None = None


class CaseAssigned(_Payload):
    """intake → all: the case has a new responsible."""

    case_id: uuid.UUID
    responsible_id: uuid.UUID
    responsible_email: str
    previous_responsible_id: uuid.UUID | None
    by: uuid.UUID | None
    at: datetime


# -- the hierarchy (R2.2–R2.6), activities (R0.2), attachments ---------------------------------
class InteractionCreated(_Payload):
    """intake → all: an interaction (call, e-mail, letter, visit, or a noted milestone) with a
    party was registered (R2.2); ``code`` is its human-readable code, unique per tenant."""

    interaction_id: uuid.UUID
    code: str
    party_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    channel: str
    summary: str
    occurred_at: datetime
    created_by: uuid.UUID | None
    created_at: datetime


class InteractionClosed(_Payload):
    """intake → all: an interaction was closed; all its cases were finished (R2.6)."""

    interaction_id: uuid.UUID
    code: str
    party_id: uuid.UUID | None
    case_ids: list[uuid.UUID]
    note: str | None
    by: uuid.UUID | None
    by_name: str | None
    closed_at: datetime


class UserRef(_Payload):
    user_id: uuid.UUID
    email: str
    name: str
    language: Literal["es", "en"]


class TaskCreated(_Payload):
    """intake → notifier (e-mails the responsible and the CC users, R2.4), all: a task (ticket)
    under a case. Carries the addresses: notifier needs no user directory for it."""

    task_id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    case_subject: str
    title: str
    description: str
    area: str | None
    due_date: date
    responsible: UserRef
    cc: list[UserRef]
    by: uuid.UUID | None
    by_name: str | None
    created_at: datetime


class TaskClosed(_Payload):
    """intake → all: a task was closed by its responsible, an admin or a supervisor (R2.4)."""

    task_id: uuid.UUID
    case_id: uuid.UUID
    responsible_id: uuid.UUID
    note: str
    by: uuid.UUID | None
    by_name: str | None
    closed_at: datetime


class WorkOrderEvent(_Payload):
    """intake → all: a technical work order on a task (R2.5) was requested, approved or rejected
    by a technical manager, or executed (only after approval). One payload for workorder.*."""

    work_order_id: uuid.UUID
    task_id: uuid.UUID
    case_id: uuid.UUID
    status: Literal["pending_approval", "approved", "rejected", "executed"]
    description: str
    comment: str | None  # the decision's comment or the execution note
    by: uuid.UUID | None
    by_name: str | None
    at: datetime


class ActivityEvent(_Payload):
    """intake → all: an activity of a case (note, task, logged call; R0.2) was added or completed."""

    activity_id: uuid.UUID
    case_id: uuid.UUID
    kind: Literal["note", "task", "call"]
    priority: str
    reason: str
    type: str
    planned_date: date | None
    done_date: date | None
    status: Literal["open", "completed"]
    owner_id: uuid.UUID
    by: uuid.UUID | None
    at: datetime


class AttachmentAdded(_Payload):
    """intake → all: a file (PDF or image, type checked from its bytes) was attached to an
    interaction, a case or a task. The bytes stay in intake: GET /attachments/{id}."""

    attachment_id: uuid.UUID
    owner_kind: Literal["interaction", "case", "task"]
    owner_id: uuid.UUID
    case_id: uuid.UUID | None
    filename: str
    content_type: str
    size: int
    sha256: str
    by: uuid.UUID | None
    at: datetime


EVENT_TYPES: dict[str, type[_Payload]] = {
    "user.session_revoked.v1": UserSessionRevoked,
    "interaction.created.v1": InteractionCreated,
    "interaction.closed.v1": InteractionClosed,
    "task.created.v1": TaskCreated,
    "task.closed.v1": TaskClosed,
    "workorder.requested.v1": WorkOrderEvent,
    "workorder.approved.v1": WorkOrderEvent,
    "workorder.rejected.v1": WorkOrderEvent,
    "workorder.executed.v1": WorkOrderEvent,
    "activity.created.v1": ActivityEvent,
    "activity.completed.v1": ActivityEvent,
    "attachment.added.v1": AttachmentAdded,
    "case.executed.v1": CaseTransition,
    "case.paused.v1": CaseTransition,
    "case.resumed.v1": CaseTransition,
    "case.finished.v1": CaseTransition,
    "case.reopened.v1": CaseTransition,
    "case.commented.v1": CaseCommented,
    "case.mail_requested.v1": CaseMailRequested,
    "case.priority_changed.v1": CasePriorityChanged,
    "case.assigned.v1": CaseAssigned,
    "user.upserted.v1": UserProfile,
    "user.invited.v1": UserInvited,
    "party.upserted.v1": PartyUpserted,
    "asset.upserted.v1": AssetUpserted,
    "case.created.v1": CaseCreated,
    "case.deadline_set.v1": CaseDeadlineSet,
    "case.overdue.v1": CaseOverdue,
    "notification.sent.v1": NotificationSent,
    "catalog.channel_changed.v1": ChannelChanged,
    "catalog.area_changed.v1": AreaChanged,
    "catalog.project_changed.v1": ProjectChanged,
    "catalog.category_changed.v1": CategoryChanged,
    "catalog.case_type_changed.v1": CaseTypeChanged,
    "catalog.calendar_changed.v1": CalendarChanged,
}


def parse_data(event_type: str, data: dict[str, Any]) -> _Payload:
    """Validate an event's data against its contract (raises on unknown type or bad payload)."""
    try:
        model = EVENT_TYPES[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None
    return model.model_validate(data)
