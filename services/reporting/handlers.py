"""reporting's event handlers: fold events into the case_facts read model."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from services.reporting import domain
from services.reporting.adapters.catalog_labels import catalog_labels
from services.reporting.adapters.db import asset_facts, case_facts, party_facts, retention_offers, retentions
from services.reporting.adapters.event_log import event_log
from services.reporting.adapters.priority_tables import priority_changes
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    AssetUpserted,
    CaseCreated,
    CaseDeadlineSet,
    CaseOverdue,
    CasePriorityChanged,
    CaseTransition,
    DesistanceRegistered,
    NotificationSent,
    PartyUpserted,
    RetentionOfferRecorded,
    parse_data,
)
from shared.db import Tx, insert_ignoring_duplicates
from shared.messaging.bus import NotYet


async def on_case_created(tx: Tx, env: Envelope) -> None:
    e = CaseCreated.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, case_facts, {
        "case_id": e.case_id, "tenant": env.tenant, "number": e.number, "type_code": e.case_type.code,
        "type_name": e.case_type.name, "status": e.status, "created_at": e.created_at, "due_at": None,
        "overdue_at": None, "emails_sent": 0})


async def _update(tx: Tx, case_id: object, **values: object) -> None:
    res = await tx.conn.execute(update(case_facts).where(case_facts.c.case_id == case_id).values(**values))
    if res.rowcount == 0:  # case.created still on its way (retry queue): try again later
        raise NotYet(f"case {case_id} not in the read model yet")


async def on_deadline_set(tx: Tx, env: Envelope) -> None:
    e = CaseDeadlineSet.model_validate(env.data)
    await _update(tx, e.case_id, due_at=e.due_at)


async def on_overdue(tx: Tx, env: Envelope) -> None:
    e = CaseOverdue.model_validate(env.data)
    await _update(tx, e.case_id, overdue_at=env.time)


async def on_notification_sent(tx: Tx, env: Envelope) -> None:
    e = NotificationSent.model_validate(env.data)
    if e.case_id is not None and e.channel == "email":
        await _update(tx, e.case_id, emails_sent=case_facts.c.emails_sent + 1)


async def _upsert_copy(tx: Tx, table: Any, key: str, values: dict[str, Any]) -> None:
    """Keep the newest state of a party or asset: insert it, or update an older copy."""
    if not await insert_ignoring_duplicates(tx.conn, table, values):
        await tx.conn.execute(update(table).where(table.c[key] == values[key],
                                                  table.c.updated_at <= values["updated_at"]).values(**values))


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
    """Executed, paused, resumed, finished, reopened: the read model follows the status."""
    e = CaseTransition.model_validate(env.data)
    await _update(tx, e.case_id, status=e.status_to)


async def on_priority_changed(tx: Tx, env: Envelope) -> None:
    """R0.5: keep every priority change for the priority-use report."""
    e = CasePriorityChanged.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, priority_changes, {
        "event_id": env.id, "tenant": env.tenant, "case_id": e.case_id, "at": e.at, "by": e.by,
        "by_name": e.by_name, "old": e.old, "new": e.new, "raised": e.raised, "reason": e.reason,
        "reason_text": e.reason_text})


async def on_retention_offer_recorded(tx: Tx, env: Envelope) -> None:
    """R1.3 → R1.5: the offers made on a retention request; a later event of the same offer (the
    customer's answer) updates it, an older one arriving late does not."""
    e = RetentionOfferRecorded.model_validate(env.data)
    await _upsert_copy(tx, retention_offers, "offer_id", {
        "offer_id": e.offer_id, "tenant": env.tenant, "case_id": e.case_id, "kind": e.kind,
        "accepted": e.accepted, "offered_at": e.offered_at, "updated_at": e.at})


async def on_desistance_registered(tx: Tx, env: Envelope) -> None:
    """R1.5: a successful retention, for the commission report of its executive and month (the
    first registration counts; a repeated event changes nothing)."""
    e = DesistanceRegistered.model_validate(env.data)
    await insert_ignoring_duplicates(tx.conn, retentions, {
        "case_id": e.case_id, "tenant": env.tenant, "number": e.number, "executive_id": e.executive_id,
        "executive_name": e.executive_name, "party_id": e.party_id, "asset_id": e.asset_id,
        "policy_code": e.policy_code, "offers_accepted": list(e.offers_accepted), "retained_at": e.at,
        "period": domain.period_of(e.at)})


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


LOGGED = ("case.commented.v1", "interaction.created.v1", "interaction.closed.v1", "task.created.v1",
          "task.closed.v1", "workorder.requested.v1", "workorder.approved.v1", "workorder.rejected.v1",
          "workorder.executed.v1", "activity.created.v1", "activity.completed.v1", "attachment.added.v1",
          # time (issue 10): kept for the SLA reports (issue 13)
          "case.clock_met.v1", "case.clock_breached.v1", "case.escalated.v1", "case.sla_warning.v1")


async def on_logged(tx: Tx, env: Envelope) -> None:
    """R2.9: keep the working-day events for the period reports per party."""
    await insert_ignoring_duplicates(tx.conn, event_log, {"event_id": env.id, "tenant": env.tenant, "type": env.type,
                                                          "subject": env.subject, "at": env.time, "data": env.data})


TRANSITIONS = ("case.executed.v1", "case.paused.v1", "case.resumed.v1", "case.finished.v1", "case.reopened.v1")

HANDLERS = {**{t: on_logged for t in LOGGED},
            **{t: on_catalog_changed for t in CATALOG_KINDS},
            **{t: on_transition for t in TRANSITIONS}, "case.priority_changed.v1": on_priority_changed,
            "case.created.v1": on_case_created, "case.deadline_set.v1": on_deadline_set,
            "case.overdue.v1": on_overdue, "notification.sent.v1": on_notification_sent,
            "party.upserted.v1": on_party_upserted, "asset.upserted.v1": on_asset_upserted,
            "case.retention_offer_recorded.v1": on_retention_offer_recorded,
            "case.desistance_registered.v1": on_desistance_registered}
