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


Channel = Literal["email", "sms", "in_app"]


class SlaPolicy(_Payload):
    """A case type's service-level policy (issue 10). The resolution target is the type's
    ``deadline`` (R4.2), optionally replaced per priority; ``first_response`` is met by the first
    action the customer sees (execute, a mail to the contact, finish) and is never replaced by
    another target. ``warning_percents`` overrides the tenant's thresholds (None: the tenant's).
    ``hold_business_days`` (R1.4): the case is executable only that many business days after
    entry. ``calendar``: the tenant calendar's code (None: the area's, else the tenant default)."""

    first_response: DeadlineRule | None = None
    resolution_by_priority: dict[Literal["low", "normal", "high", "urgent"], DeadlineRule] = {}
    warning_percents: list[int] | None = None
    hold_business_days: int | None = None
    calendar: str | None = None


class CaseTypeRef(_Payload):
    code: str
    name: str
    deadline: DeadlineRule
    sla: SlaPolicy | None = None  # None: only the deadline (resolution) with the tenant's settings
    churn_alert: bool = False  # R1.1: creating one alerts the customer's executive and the line above


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
    # Which of the tenant's calendars applies (by type, else area, else "default"), so that
    # ``calendar_version`` is that calendar's version.
    calendar_code: str = "default"
    # R2.3: the internal commitment date is a clock too (its passing alerts the responsible).
    internal_commitment_date: date | None = None
    customer_commitment_date: date | None = None
    # R1.1: the commercial executive assigned to the case's party (customer), if any.
    party_executive_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = None  # the policy (supply, property…) the case is about


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
    case_version: int | None = None  # the last intake case event workflow had applied
    cycle: int = 1
    responsible_id: uuid.UUID | None = None


ClockKind = Literal["first_response", "resolution", "hold", "internal_commitment"]
ClockState = Literal["running", "paused", "warned", "met", "breached", "stopped"]


class Interval(_Payload):
    start: datetime
    end: datetime | None = None  # None: still open (a pause going on)


class TraceDay(_Payload):
    """One local day between a clock's start and its due time: the working time counted, or why
    none was (``weekend``, ``holiday`` with its name, ``closed`` with the admin's reason, ``paused``)."""

    date: date
    counted: list[Interval] = []
    skipped: Literal["weekend", "holiday", "closed", "not_working_day"] | None = None
    name: str | None = None


class ClockView(_Payload):
    """One clock as workflow computed it (what GET /cases/{id}/sla explains). ``counted`` are the
    working intervals from start to due outside pauses: remaining(now) is their overlap with
    [now, due] (``shared.contracts.events.remaining_seconds``), so intake answers without a
    calendar."""

    kind: ClockKind
    target: DeadlineRule | None
    state: ClockState
    cycle: int = 1  # reopening starts a new resolution cycle
    started_at: datetime
    due_at: datetime | None
    target_seconds: int | None  # business seconds of the target
    paused: list[Interval] = []
    paused_seconds: int = 0  # business seconds paused (added to the due time)
    warned_percents: list[int] = []
    met_at: datetime | None = None
    breached_at: datetime | None = None
    calendar: str = "default"
    counted: list[Interval] = []
    trace: list[TraceDay] = []


def remaining_seconds(clock: ClockView, now: datetime) -> int:
    """Business seconds left on a running clock at ``now`` (0 once due; a paused clock's counted
    intervals were computed as if it resumed now, so the same answer holds)."""
    left = 0.0
    for iv in clock.counted:
        end = iv.end or iv.start
        if end > now:
            left += (end - max(iv.start, now)).total_seconds()
    return int(left)


class CaseSlaChanged(_Payload):
    """workflow → intake: every clock of a case after a change (start, pause, resume, met, breach,
    re-target). ``case_version``: the last intake case event workflow had applied."""

    case_id: uuid.UUID
    case_version: int
    clocks: list[ClockView]
    reason: str  # what changed, for the case history (e.g. "calendar 'default' v3", "priority high")
    announce: bool = False  # True: intake writes a history line (policy/calendar re-target, hold)
    revision: int = 0  # workflow's count of changes to this case's clocks: intake keeps the highest


class Recipient(_Payload):
    """Someone workflow decided must be told, and by which channels (notifier resolves addresses
    from its user directory)."""

    user_id: uuid.UUID
    reason: Literal["responsible", "manager", "area_head", "subscriber", "supervisor"]
    channels: list[Channel]


class CaseSlaWarning(_Payload):
    """workflow → notifier, intake: ``percent`` of a clock's business time is used."""

    case_id: uuid.UUID
    case_version: int
    clock: ClockKind
    percent: int
    due_at: datetime
    cycle: int = 1
    recipients: list[Recipient]


class CaseClockMet(_Payload):
    case_id: uuid.UUID
    case_version: int
    clock: ClockKind
    cycle: int = 1
    met_at: datetime
    due_at: datetime | None
    on_time: bool
    # Business seconds the clock ran from its start to ``met_at``, pauses excluded (reporting's
    # response times "in business time"; None from older publishers).
    business_seconds: int | None = None


class CaseClockBreached(_Payload):
    case_id: uuid.UUID
    case_version: int
    clock: ClockKind
    cycle: int = 1
    due_at: datetime
    breached_at: datetime


class CaseEscalated(_Payload):
    """workflow → notifier (and reporting): a case was escalated. ``kind`` is an escalation kind
    code (``case_overdue``: the resolution target breached, R4.8/R4.9 + the ladder;
    ``first_response_overdue``, ``commitment_passed``, ``task_overdue``, ``priority_raised`` (R0.4),
    ``triage_supervisor`` (R3.4 rules 6–8)). One event per (case, kind, cycle, level): a timer
    tick never repeats it; reopened and late again is a new cycle."""

    case_id: uuid.UUID
    case_version: int
    kind: str
    level: int  # ladder level (0: the breach itself: responsible and subscribers)
    cycle: int = 1
    clock: ClockKind | None = None
    due_at: datetime | None = None
    overdue_seconds: int | None = None  # wall-clock lateness when emitted
    urgent: bool = False
    message: str | None = None  # R3.4: the triage message; R0.4: the raise's reason
    task_id: uuid.UUID | None = None
    recipients: list[Recipient]
    at: datetime


class CaseHoldSet(_Payload):
    """workflow → intake: R1.4: the case may be executed from ``executable_from`` (business days
    after entry); intake refuses execute before it (409 naming the date)."""

    case_id: uuid.UUID
    case_version: int
    business_days: int
    executable_from: datetime
    executable_from_date: date


AlertKind = Literal["case_overdue", "commitment_passed", "task_overdue"]


class AlertRaised(_Payload):
    """workflow → intake: an alert people see in GET /alerts (R4.8: an overdue case for its
    responsible and the admins; R2.3 internal commitment passed; R2.4 task past its due date).
    ``alert_id`` is stable per (subject, kind, cycle)."""

    alert_id: uuid.UUID
    kind: AlertKind
    case_id: uuid.UUID
    task_id: uuid.UUID | None = None
    responsible_id: uuid.UUID | None
    due_at: datetime
    raised_at: datetime
    case_version: int


class AlertEnded(_Payload):
    """workflow → intake: the alert ended (executed, finished, task closed, re-targeted)."""

    alert_id: uuid.UUID
    kind: AlertKind
    case_id: uuid.UUID
    task_id: uuid.UUID | None = None
    ended_at: datetime
    reason: str
    case_version: int


class NotificationFailed(_Payload):
    """notifier → intake (a line in the case's history), reporting: a message could not be
    delivered (permanent error, undelivered, failed at the provider)."""

    delivery_id: uuid.UUID
    case_id: uuid.UUID | None
    channel: Channel
    template: str
    recipient_role: str
    recipient: str  # the address or number (masked for SMS: the last 4 digits)
    state: Literal["failed", "undelivered"]
    error_code: str | None = None
    error: str | None = None
    at: datetime


class InAppNotified(_Payload):
    """notifier → every notifier replica (each one's live-stream queue): an in-app notification
    was stored for ``user_id``; the replicas holding that user's open streams push it."""

    notification_id: uuid.UUID
    user_id: uuid.UUID
    case_id: uuid.UUID | None
    kind: str  # the event it tells of, e.g. "case.commented"
    title: str
    body: str
    created_at: datetime


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
    calendar: str | None = None  # the calendar its cases run on (None: the tenant default)


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
    sla: SlaPolicy | None = None  # issue 10: targets, warnings, hold, calendar
    churn_alert: bool = False  # R1.1 (issue 12)
    preceded_by: str | None = None  # R1.4: a case of this type code must exist first for the same policy


class ClosedDay(_Payload):
    date: date
    name: str | None = None


class WorkPeriod(_Payload):
    start: time  # local
    end: time


class CalendarChanged(_Payload):
    """intake → workflow (and all): one of a tenant's business calendars (``code``; "default" is
    the tenant's own): country and subdivision (national and regional holidays, ``holidays``
    package), time zone, extra closed days, extra working days and working hours. ``hours`` (ISO
    weekday "1".."7" → periods, e.g. 09:00–13:00 and 14:00–18:00) wins over ``work_days`` /
    ``work_start`` / ``work_end``, which remain for older consumers (the first and last period)."""

    country: str
    timezone: str
    extra_closed_days: list[ClosedDay]
    work_days: list[int]
    work_start: time
    work_end: time
    version: int
    code: str = "default"
    name: str | None = None
    subdivision: str | None = None
    hours: dict[str, list[WorkPeriod]] | None = None
    extra_working_days: list[ClosedDay] = []
    active: bool = True


class EscalationLevel(_Payload):
    """One rung of the ladder: ``after`` the breach (level 1: amount 0), tell ``steps_up`` managers
    above the responsible (``to="manager_chain"``) or the head of the case's area (``to="area_head"``),
    by ``channels``."""

    level: int
    after: DeadlineRule
    to: Literal["manager_chain", "area_head"]
    steps_up: int = 1
    channels: list[Channel]


class SlaSettingsChanged(_Payload):
    """intake → workflow: a tenant's time settings: warning thresholds (percent of a target's
    business time, R4.8 warnings), the escalation ladder, and whether e-mail/SMS escalations of
    non-urgent cases wait for working time (quiet hours)."""

    warning_percents: list[int]
    ladder: list[EscalationLevel]
    quiet_hours: bool = True
    version: int
    churn_alert_levels: int = 2  # R1.1: managers above the executive told (1: the unit head only)


class EscalationKindChanged(_CatalogEntry):
    """intake → all: an escalation kind users may subscribe to (R4.9; e.g. ``case_overdue`` =
    "Solicitud de atención al cliente vencida"). ``user.upserted.v1``'s ``escalation_subscriptions``
    name these codes."""


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


class MailAttachment(_Payload):
    """A file of the case sent with a mail (event-carried: notifier never reads intake's files)."""

    attachment_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    content_b64: str


class CaseMailRequested(_Payload):
    """intake → notifier: send an e-mail about a case (R4.6 "send mail", optionally with its
    details and chosen attachments of the case)."""

    case_id: uuid.UUID
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    include_details: bool
    by: uuid.UUID | None
    by_name: str | None
    at: datetime
    attachments: list[MailAttachment] = []


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


# -- retention (seed 001, issue 12) -----------------------------------------------------------
RetentionOfferKind = Literal["withdraw_savings", "loan", "direct_payment", "premium_pause"]


class RetentionOfferRecorded(_Payload):
    """intake → reporting: R1.3 an offer made to keep the customer, on a retention request, and
    whether the customer accepted it (None: not yet answered)."""

    case_id: uuid.UUID
    offer_id: uuid.UUID
    kind: RetentionOfferKind
    description: str | None
    offered_at: datetime
    accepted: bool | None
    by: uuid.UUID | None
    by_name: str | None
    at: datetime


class DesistanceRegistered(_Payload):
    """intake → reporting (R1.5 commission report), all: R1.2 the customer desisted from the
    surrender: the retention request ends as retained, with the signed letter attached."""

    case_id: uuid.UUID
    number: str
    party_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    policy_code: str | None
    executive_id: uuid.UUID | None
    executive_name: str | None
    letter_attachment_id: uuid.UUID
    offers_accepted: list[RetentionOfferKind]
    by: uuid.UUID | None
    by_name: str | None
    at: datetime


class CaseReclassified(_Payload):
    """intake → all: the case's type changed (its SLA policy with it; workflow re-targets the
    clocks keeping the time already paused)."""

    case_id: uuid.UUID
    old_type: str
    case_type: CaseTypeRef
    by: uuid.UUID | None
    by_name: str | None
    at: datetime
    responsible_id: uuid.UUID | None = None


class CaseTriageEscalated(_Payload):
    """intake → workflow: R3.4 rules 6–8 ("escalate to the supervisor; no new request"): an agent
    escalated the original case; workflow tells the supervisor of its area with the message."""

    case_id: uuid.UUID
    rule: int
    message: str
    area: str | None
    by: uuid.UUID | None
    by_name: str | None
    at: datetime
    responsible_id: uuid.UUID | None = None


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
    "notification.failed.v1": NotificationFailed,
    "notification.in_app.v1": InAppNotified,  # notifier → every notifier replica (live streams)
    "catalog.channel_changed.v1": ChannelChanged,
    "catalog.area_changed.v1": AreaChanged,
    "catalog.project_changed.v1": ProjectChanged,
    "catalog.category_changed.v1": CategoryChanged,
    "catalog.case_type_changed.v1": CaseTypeChanged,
    "catalog.calendar_changed.v1": CalendarChanged,
    # time (issue 10)
    "case.reclassified.v1": CaseReclassified,
    "case.triage_escalated.v1": CaseTriageEscalated,
    "case.sla_changed.v1": CaseSlaChanged,
    "case.sla_warning.v1": CaseSlaWarning,
    "case.clock_met.v1": CaseClockMet,
    "case.clock_breached.v1": CaseClockBreached,
    "case.escalated.v1": CaseEscalated,
    "case.hold_set.v1": CaseHoldSet,
    "alert.raised.v1": AlertRaised,
    "alert.ended.v1": AlertEnded,
    "catalog.sla_settings_changed.v1": SlaSettingsChanged,
    "catalog.escalation_kind_changed.v1": EscalationKindChanged,
    # retention (issue 12, R1.2, R1.3)
    "case.retention_offer_recorded.v1": RetentionOfferRecorded,
    "case.desistance_registered.v1": DesistanceRegistered,
}


# Contracts agreed for issue 11 (reaching people) whose publishers and consumers are still to
# come. A type joins EVENT_TYPES (and docs/architecture.md) in the commit that gives it a
# publisher and a consumer, so nothing published lands in <ns>.unrouted.
PLANNED_EVENT_TYPES: dict[str, type[_Payload]] = {}


def parse_data(event_type: str, data: dict[str, Any]) -> _Payload:
    """Validate an event's data against its contract (raises on unknown type or bad payload)."""
    try:
        model = EVENT_TYPES[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None
    return model.model_validate(data)
