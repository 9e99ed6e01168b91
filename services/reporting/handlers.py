"""reporting's event handlers: fold events into the read models (case, party, asset, interaction
and task facts, priority changes, retentions, catalog labels).

Every handler is safe to run again and in any order the bus may deliver: a repeated event is
dropped by the inbox, a case event older than what was applied by ``subject_progress`` (the
processor applies a case's events in its version order), and workflow's events, which are not
numbered, keep the highest ``revision`` (``case.sla_changed.v1``) or cycle (``case.clock_met.v1``,
``case.clock_breached.v1``). Each applied event is also kept in ``event_log``, in the order it
was applied: ``atiende reporting rebuild`` replays it through the same functions
(``PROJECTIONS``) and gets the same tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, select, update

from services.reporting import domain
from services.reporting.adapters.activity_tables import interaction_facts, task_facts, tenant_zones
from services.reporting.adapters.catalog_labels import catalog_labels
from services.reporting.adapters.db import (
    CLOCKS,
    asset_facts,
    case_facts,
    party_facts,
    retention_offers,
    retentions,
)
from services.reporting.adapters.event_log import event_log
from services.reporting.adapters.priority_tables import priority_changes
from services.reporting.adapters.report_queries import tenant_zone
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    AssetUpserted,
    CaseAssigned,
    CaseClockBreached,
    CaseClockMet,
    CaseCreated,
    CaseDeadlineSet,
    CaseOverdue,
    CasePriorityChanged,
    CaseReclassified,
    CaseSlaChanged,
    CaseTransition,
    DesistanceRegistered,
    InteractionClosed,
    InteractionCreated,
    NotificationSent,
    PartyUpserted,
    RetentionOfferRecorded,
    TaskClosed,
    TaskCreated,
    parse_data,
)
from shared.db import Tx, insert_ignoring_duplicates, upsert_newer
from shared.messaging.bus import NotYet

Projection = Callable[[Tx, Envelope], Awaitable[None]]
f = case_facts.c


async def on_case_created(tx: Tx, env: Envelope) -> None:
    e = CaseCreated.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, case_facts, {
        "case_id": e.case_id, "tenant": env.tenant, "number": e.number, "type_code": e.case_type.code,
        "type_name": e.case_type.name, "status": e.status, "created_at": e.created_at, "due_at": None,
        "overdue_at": None, "emails_sent": 0, "area": e.area, "channel": e.channel, "project": e.project,
        "responsible_id": e.responsible_id, "responsible_name": e.responsible_name, "priority": e.priority,
        "party_id": e.party_id, "asset_id": e.asset_id, "time_zone": e.tenant_timezone, "reopened": 0,
        "sla_revision": 0})
    await _upsert_copy(tx, tenant_zones, "tenant", {"tenant": env.tenant, "time_zone": e.tenant_timezone,
                                                    "updated_at": env.time})


async def _update(tx: Tx, case_id: object, *where: Any, **values: object) -> None:
    """Update a case's facts (``where``: extra conditions that make a late event change nothing);
    a case not in the read model yet is retried (its case.created is still on its way)."""
    res = await tx.conn.execute(update(case_facts).where(f.case_id == case_id, *where).values(**values))
    if res.rowcount == 0 and (not where or (await tx.conn.execute(
            select(f.case_id).where(f.case_id == case_id))).first() is None):
        raise NotYet(f"case {case_id} not in the read model yet")


def _earliest(column: Any, at: datetime) -> Any:
    """SQL for the earlier of ``column`` and ``at`` (``at`` when the column is empty): the same
    answer whatever order the candidates arrive in."""
    return case((column.is_(None) | (column > at), literal(at, column.type)), else_=column)


async def on_deadline_set(tx: Tx, env: Envelope) -> None:
    e = CaseDeadlineSet.model_validate(env.data)
    await _update(tx, e.case_id, due_at=e.due_at)


async def on_overdue(tx: Tx, env: Envelope) -> None:
    e = CaseOverdue.model_validate(env.data)
    await _update(tx, e.case_id, overdue_at=env.time)


async def on_notification_sent(tx: Tx, env: Envelope) -> None:
    e = NotificationSent.model_validate(env.data)
    if e.case_id is not None and e.channel == "email":
        await _update(tx, e.case_id, emails_sent=f.emails_sent + 1)


async def _upsert_copy(tx: Tx, table: Any, key: str, values: dict[str, Any]) -> None:
    """Keep the newest state of a copy (party, asset, offer, time zone): insert it, or update an
    older copy (one statement: every case.created keeps its tenant's zone)."""
    await upsert_newer(tx.conn, table, key, values)


async def on_party_upserted(tx: Tx, env: Envelope) -> None:
    e = PartyUpserted.model_validate(env.data)
    await _upsert_copy(tx, party_facts, "party_id", {
        "party_id": e.party_id, "tenant": env.tenant, "kind": e.kind, "internal": e.internal, "name": e.name,
        "restricted": e.restricted, "active": e.active, "updated_at": e.updated_at})


async def on_asset_upserted(tx: Tx, env: Envelope) -> None:
    e = AssetUpserted.model_validate(env.data)
    await _upsert_copy(tx, asset_facts, "asset_id", {
        "asset_id": e.asset_id, "tenant": env.tenant, "kind": e.kind, "code": e.code, "name": e.name,
        "party_id": e.party_id, "active": e.active, "updated_at": e.updated_at})


async def on_transition(tx: Tx, env: Envelope) -> None:
    """Executed, paused, resumed, finished, reopened: the read model follows the status; executing
    or finishing is a first response, finishing ends the case until it is reopened."""
    e = CaseTransition.model_validate(env.data)
    values: dict[str, Any] = {"status": e.status_to}
    if env.type in ("case.executed.v1", "case.finished.v1"):
        values["answered_at"] = _earliest(f.answered_at, e.at)
    if env.type == "case.finished.v1":
        values.update(finished_at=e.at, finished_status=e.status_to)
    elif env.type == "case.reopened.v1":
        values.update(finished_at=None, finished_status=None, reopened=f.reopened + 1)
    await _update(tx, e.case_id, **values)


async def on_assigned(tx: Tx, env: Envelope) -> None:
    e = CaseAssigned.model_validate(env.data)
    await _update(tx, e.case_id, responsible_id=e.responsible_id, responsible_name=None)


async def on_reclassified(tx: Tx, env: Envelope) -> None:
    e = CaseReclassified.model_validate(env.data)
    await _update(tx, e.case_id, type_code=e.case_type.code, type_name=e.case_type.name)


async def on_priority_changed(tx: Tx, env: Envelope) -> None:
    """R0.5: keep every priority change for the priority-use report; the case's priority now."""
    e = CasePriorityChanged.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, priority_changes, {
        "event_id": env.id, "tenant": env.tenant, "case_id": e.case_id, "at": e.at, "by": e.by,
        "by_name": e.by_name, "old": e.old, "new": e.new, "raised": e.raised, "reason": e.reason,
        "reason_text": e.reason_text})
    await _update(tx, e.case_id, priority=e.new)


async def on_sla_changed(tx: Tx, env: Envelope) -> None:
    """Every clock of the case as workflow computed it: the highest ``revision`` wins, so a late
    older one changes nothing. A clock on a new cycle (reopened) forgets the old cycle's time."""
    e = CaseSlaChanged.model_validate(env.data)
    values: dict[str, Any] = {"sla_revision": e.revision}
    for clock in e.clocks:
        if clock.kind not in CLOCKS:
            continue
        k = clock.kind
        seconds = f[f"{k}_business_seconds"]
        values.update({f"{k}_state": clock.state, f"{k}_cycle": clock.cycle, f"{k}_due_at": clock.due_at,
                       f"{k}_met_at": clock.met_at, f"{k}_breached_at": clock.breached_at,
                       f"{k}_business_seconds": case((func.coalesce(f[f"{k}_cycle"], 0) < clock.cycle, None),
                                                     else_=seconds)})
        if k == "first_response" and clock.met_at is not None:
            values["answered_at"] = _earliest(f.answered_at, clock.met_at)
    await _update(tx, e.case_id, f.sla_revision < e.revision, **values)


async def on_clock_met(tx: Tx, env: Envelope) -> None:
    """A clock met: its business time used (``business_seconds``), for the response times. An
    older cycle's arriving late changes nothing."""
    e = CaseClockMet.model_validate(env.data)
    if e.clock not in CLOCKS:
        return
    k = e.clock
    values: dict[str, Any] = {f"{k}_cycle": e.cycle, f"{k}_met_at": e.met_at, f"{k}_due_at": e.due_at,
                              f"{k}_business_seconds": e.business_seconds}
    if k == "first_response":
        values["answered_at"] = _earliest(f.answered_at, e.met_at)
    await _update(tx, e.case_id, func.coalesce(f[f"{k}_cycle"], 0) <= e.cycle, **values)


async def on_clock_breached(tx: Tx, env: Envelope) -> None:
    e = CaseClockBreached.model_validate(env.data)
    if e.clock not in CLOCKS:
        return
    k = e.clock
    await _update(tx, e.case_id, func.coalesce(f[f"{k}_cycle"], 0) <= e.cycle, **{
        f"{k}_cycle": e.cycle, f"{k}_breached_at": e.breached_at, f"{k}_due_at": e.due_at})


async def on_interaction_created(tx: Tx, env: Envelope) -> None:
    """R2.9: an interaction with a party (and maybe a supply)."""
    e = InteractionCreated.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, interaction_facts, {
        "interaction_id": e.interaction_id, "tenant": env.tenant, "code": e.code, "party_id": e.party_id,
        "asset_id": e.asset_id, "channel": e.channel, "summary": e.summary, "occurred_at": e.occurred_at,
        "closed_at": None})


async def on_interaction_closed(tx: Tx, env: Envelope) -> None:
    e = InteractionClosed.model_validate(env.data)
    await _update_copy(tx, interaction_facts, "interaction_id", e.interaction_id, closed_at=e.closed_at)


async def on_task_created(tx: Tx, env: Envelope) -> None:
    """R2.9: a ticket under a case (its party is the case's)."""
    e = TaskCreated.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, task_facts, {
        "task_id": e.task_id, "tenant": env.tenant, "case_id": e.case_id, "title": e.title, "area": e.area,
        "due_date": e.due_date, "responsible_id": e.responsible.user_id, "responsible_name": e.responsible.name,
        "created_at": e.created_at, "closed_at": None})


async def on_task_closed(tx: Tx, env: Envelope) -> None:
    e = TaskClosed.model_validate(env.data)
    await _update_copy(tx, task_facts, "task_id", e.task_id, closed_at=e.closed_at)


async def _update_copy(tx: Tx, table: Any, key: str, id_: object, **values: Any) -> None:
    res = await tx.conn.execute(update(table).where(table.c[key] == id_).values(**values))
    if res.rowcount == 0:  # its creation is still on its way
        raise NotYet(f"{table.name} {id_} not in the read model yet")


async def on_retention_offer_recorded(tx: Tx, env: Envelope) -> None:
    """R1.3 → R1.5: the offers made on a retention request; a later event of the same offer (the
    customer's answer) updates it, an older one arriving late does not."""
    e = RetentionOfferRecorded.model_validate(env.data)
    await _upsert_copy(tx, retention_offers, "offer_id", {
        "offer_id": e.offer_id, "tenant": env.tenant, "case_id": e.case_id, "kind": e.kind,
        "accepted": e.accepted, "offered_at": e.offered_at, "updated_at": e.at})


async def on_desistance_registered(tx: Tx, env: Envelope) -> None:
    """R1.5: a successful retention, for the commission report of its executive and month (in the
    tenant's time zone; the first registration counts, a repeated event changes nothing)."""
    e = DesistanceRegistered.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, retentions, {
        "case_id": e.case_id, "tenant": env.tenant, "number": e.number, "executive_id": e.executive_id,
        "executive_name": e.executive_name, "party_id": e.party_id, "asset_id": e.asset_id,
        "policy_code": e.policy_code, "offers_accepted": list(e.offers_accepted), "retained_at": e.at,
        "period": domain.period_of(e.at, await tenant_zone(tx.conn, env.tenant))})


CATALOG_KINDS = {"catalog.channel_changed.v1": "channel", "catalog.area_changed.v1": "area",
                 "catalog.project_changed.v1": "project", "catalog.category_changed.v1": "category",
                 "catalog.case_type_changed.v1": "case_type", "catalog.escalation_kind_changed.v1": "escalation_kind"}


async def on_catalog_changed(tx: Tx, env: Envelope) -> None:
    """Keep the newest label of each catalog entry (older versions arriving late are ignored)."""
    e = parse_data(env.type, env.data)
    kind = CATALOG_KINDS[env.type]
    code = getattr(e, "path", None) or e.code  # type: ignore[attr-defined]
    values = {"name_es": e.name_es, "name_en": e.name_en, "active": e.active, "version": e.version}  # type: ignore[attr-defined]
    key = (catalog_labels.c.tenant == env.tenant, catalog_labels.c.kind == kind, catalog_labels.c.code == code)
    if not await insert_ignoring_duplicates(tx.conn, catalog_labels,
                                            {"tenant": env.tenant, "kind": kind, "code": code, **values}):
        await tx.conn.execute(update(catalog_labels).where(*key, catalog_labels.c.version < values["version"])
                              .values(**values))


async def only_logged(tx: Tx, env: Envelope) -> None:
    """Working-day events no read model folds yet (comments, work orders, activities, attachments,
    escalations, warnings): kept in the log only."""


LOGGED_ONLY = ("case.commented.v1", "workorder.requested.v1", "workorder.approved.v1", "workorder.rejected.v1",
               "workorder.executed.v1", "activity.created.v1", "activity.completed.v1", "attachment.added.v1",
               "case.escalated.v1", "case.sla_warning.v1")

TRANSITIONS = ("case.executed.v1", "case.paused.v1", "case.resumed.v1", "case.finished.v1", "case.reopened.v1")

# What each event does to the read models: the live handlers and the rebuild run these.
PROJECTIONS: dict[str, Projection] = {
    **{t: only_logged for t in LOGGED_ONLY},
    **{t: on_catalog_changed for t in CATALOG_KINDS},
    **{t: on_transition for t in TRANSITIONS}, "case.priority_changed.v1": on_priority_changed,
    "case.created.v1": on_case_created, "case.deadline_set.v1": on_deadline_set,
    "case.assigned.v1": on_assigned, "case.reclassified.v1": on_reclassified,
    "case.overdue.v1": on_overdue, "notification.sent.v1": on_notification_sent,
    "case.sla_changed.v1": on_sla_changed, "case.clock_met.v1": on_clock_met,
    "case.clock_breached.v1": on_clock_breached,
    "interaction.created.v1": on_interaction_created, "interaction.closed.v1": on_interaction_closed,
    "task.created.v1": on_task_created, "task.closed.v1": on_task_closed,
    "party.upserted.v1": on_party_upserted, "asset.upserted.v1": on_asset_upserted,
    "case.retention_offer_recorded.v1": on_retention_offer_recorded,
    "case.desistance_registered.v1": on_desistance_registered}

# The read models the projections write (what a rebuild empties first).
READ_MODELS = (case_facts, party_facts, asset_facts, priority_changes, retentions, retention_offers,
               catalog_labels, interaction_facts, task_facts, tenant_zones)


async def log_event(tx: Tx, env: Envelope) -> None:
    """Keep ``env`` in the event log, after what was applied before it (``position``): written
    with the rest of the batch's log rows just before the commit (``Tx.insert_later``)."""
    tx.insert_later(event_log, {
        "event_id": env.id, "tenant": env.tenant, "type": env.type, "source": env.source, "subject": env.subject,
        "sequence": env.sequence, "at": env.time, "correlationid": env.correlationid,
        "causationid": env.causationid, "data": env.data})


def _logged(project: Projection) -> Projection:
    async def handle(tx: Tx, env: Envelope) -> None:
        await project(tx, env)
        await log_event(tx, env)  # same transaction: logged exactly when applied

    handle.__doc__ = project.__doc__
    return handle


HANDLERS: dict[str, Projection] = {t: _logged(p) for t, p in PROJECTIONS.items()}
