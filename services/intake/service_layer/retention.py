"""Use cases of a retention request (seed 001): R1.3 offers, R1.2 the desistance letter and the
successful desistance.

- Only on a case whose type is a retention type (``domain.retention.RETENTION_TYPE_CODES``):
  anything else is 409 ``not-a-retention-request``.
- Offers: recorded and answered by whoever may work the case (R4.4 "execute": its responsible,
  supervisors, admins); listed for whoever may see it. Each is a history line and a
  ``case.retention_offer_recorded.v1`` numbered with the case's version.
- The letter: rendered on each GET from the case's party (name, RUT), its policy (the case's
  asset) and its executive, dated today in the tenant's time zone.
- The desistance: whoever may finish the case; the signed letter must be a PDF attached to this
  case (422 on ``letter_attachment_id``); the case is finished with success as ``retained`` (the
  same effects as finishing it: ``case.finished.v1``) and ``case.desistance_registered.v1`` carries
  the accepted offers, the party, the policy and the executive (the commission report, R1.5).

The executive is the party's own (``parties.executive_id``, intake_0011, issue 12 item
1), else the case's responsible."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters import repository as repo
from services.intake.adapters import retention_tables as q
from services.intake.adapters.case_tables import attachments
from services.intake.adapters.db import tenants, users
from services.intake.adapters.party_tables import assets, parties
from services.intake.domain import lifecycle, retention
from services.intake.domain.access import CaseAction, Principal
from services.intake.service_layer.cases import case_for_update, visible_case
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import CaseTransition, DesistanceRegistered, RetentionOfferRecorded
from shared.db import Database, utcnow
from shared.refusals import conflict, field_error, invalid, not_found

OFFER_NOT_FOUND = ("Oferta no encontrada", "Offer not found")


def _require_retention(case: Any) -> None:
    if not retention.is_retention_type(case.type_code):
        raise conflict("not-a-retention-request", ("No es una solicitud de retención", "Not a retention request"),
                       retention.NOT_RETENTION, case_type=case.type_code)


def _require_open(case: Any) -> None:
    if lifecycle.Status(case.status) in lifecycle.FINISHED:
        es, en = lifecycle.STATUS_LABELS[lifecycle.Status(case.status)]
        raise conflict("case-finished", ("La solicitud está finalizada", "The case is finished"),
                       (f"La solicitud está {es}; ya no se registran ofertas.",
                        f"The case is {en}; offers are no longer recorded."), status_now=case.status)


def _offer_event(case: Any, offer: Any, who: Principal, at: datetime) -> RetentionOfferRecorded:
    return RetentionOfferRecorded(case_id=case.id, offer_id=offer.id, kind=offer.kind, description=offer.description,
                                  offered_at=offer.offered_at, accepted=offer.accepted, by=who.user_id,
                                  by_name=who.name, at=at)


# -- R1.3 offers --------------------------------------------------------------------------------
async def record_offer(db: Database, who: Principal, case_id: uuid.UUID, *, kind: retention.OfferKind,
                       description: str | None, offered_at: datetime | None, accepted: bool | None) -> Any:
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.EXECUTE)
        _require_retention(case)
        _require_open(case)
        now = utcnow()
        offer = await q.insert_offer(uow.conn, {
            "id": uuid.uuid4(), "tenant": case.tenant, "case_id": case.id, "kind": kind.value,
            "description": description, "offered_at": offered_at or now, "accepted": accepted,
            "created_by": who.user_id, "created_by_name": who.name or who.email, "created_at": now, "updated_at": now})
        await uow.record(case, who, "retention_offer_recorded", {
            "offer_id": str(offer.id), "kind": offer.kind, "label": retention.OFFER_LABELS[kind][0],
            "description": description, "offered_at": offer.offered_at.isoformat(), "accepted": accepted})
        await uow.emit_case_event(case, "case.retention_offer_recorded.v1", _offer_event(case, offer, who, now))
    return offer


async def answer_offer(db: Database, who: Principal, case_id: uuid.UUID, offer_id: uuid.UUID, accepted: bool) -> Any:
    """Whether the customer accepted the offer (may be changed while the case is open)."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.EXECUTE)
        _require_retention(case)
        offer = await q.offer_of_case(uow.conn, case.id, offer_id)
        if offer is None:
            raise not_found(OFFER_NOT_FOUND)
        _require_open(case)
        now = utcnow()
        changed = await q.update_offer(uow.conn, offer.id, {"accepted": accepted, "updated_at": now})
        await uow.record(case, who, "retention_offer_answered", {
            "offer_id": str(offer.id), "kind": offer.kind, "from": offer.accepted, "to": accepted})
        await uow.emit_case_event(case, "case.retention_offer_recorded.v1", _offer_event(case, changed, who, now))
    return changed


async def list_offers(db: Database, who: Principal, case_id: uuid.UUID) -> list[Any]:
    case = await visible_case(db, who, case_id, CaseAction.READ)
    _require_retention(case)
    async with db.read() as conn:
        return await q.offers_of_case(conn, case.id)


# -- the people and things the letter and the desistance name ----------------------------------
async def _executive(conn: AsyncConnection, case: Any, party: Any) -> tuple[uuid.UUID | None, str | None]:
    """The party's executive when the parties table has one, else the case's responsible."""
    executive_id = getattr(party, "executive_id", None) if party is not None else None
    user_id = executive_id or case.responsible_id
    if user_id is None:
        return None, None
    row = (await conn.execute(select(users.c.id, users.c.name).where(users.c.id == user_id))).first()
    return (row.id, row.name) if row is not None else (user_id, None)


async def _party_and_asset(conn: AsyncConnection, case: Any) -> tuple[Any, Any]:
    party = None
    if case.party_id is not None:
        party = (await conn.execute(select(parties).where(parties.c.id == case.party_id))).first()
    asset = None
    if case.asset_id is not None:
        asset = (await conn.execute(select(assets).where(assets.c.id == case.asset_id))).first()
        if party is None and asset is not None and asset.party_id is not None:
            party = (await conn.execute(select(parties).where(parties.c.id == asset.party_id))).first()
    return party, asset


# -- R1.2 the letter ------------------------------------------------------------------------------
async def letter_data(db: Database, who: Principal, case_id: uuid.UUID) -> tuple[Any, retention.LetterData]:
    case = await visible_case(db, who, case_id, CaseAction.READ)
    _require_retention(case)
    async with db.read() as conn:
        tenant = (await conn.execute(select(tenants).where(tenants.c.slug == case.tenant))).one()
        party, asset = await _party_and_asset(conn, case)
        _, executive_name = await _executive(conn, case, party)
    today = utcnow().astimezone(ZoneInfo(tenant.timezone)).date()
    return case, retention.LetterData(
        company=tenant.name, customer_name=party.name if party is not None else case.contact_name,
        national_id=retention.format_national_id(party.national_id if party is not None else None, tenant.country),
        policy_code=asset.code if asset is not None else "__________", on=today,
        executive_name=executive_name or case.responsible_email)


# -- R1.2 the desistance ---------------------------------------------------------------------------
NOT_THE_LETTER = ("Adjunte primero la carta de desistimiento firmada (PDF) a esta solicitud e indique ese archivo.",
                  "Attach the signed desistance letter (PDF) to this case first and name that file.")


async def register_desistance(db: Database, who: Principal, case_id: uuid.UUID, *, letter_attachment_id: uuid.UUID,
                              note: str | None) -> Any:
    """Finish the retention request as retained with the signed letter; returns the case."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.FINISH)
        _require_retention(case)
        try:
            new = lifecycle.next_status(lifecycle.Status(case.status), lifecycle.Action.FINISH_SUCCESS)
        except lifecycle.IllegalTransition as exc:
            raise conflict("illegal-transition", ("Acción no permitida en este estado",
                                                  "Action not allowed in this state"),
                           lifecycle.illegal_transition_text(exc), status_now=case.status,
                           allowed_actions=[a.value for a in exc.allowed]) from None
        a = attachments.c
        letter = (await uow.conn.execute(select(a.id, a.filename, a.content_type).where(
            a.id == letter_attachment_id, a.tenant == case.tenant, a.owner_kind == "case",
            a.owner_id == case.id))).first()
        if letter is None or letter.content_type != "application/pdf":
            raise invalid(field_error("letter_attachment_id", NOT_THE_LETTER,
                                      "letter_required" if letter is None else "letter_not_pdf"))
        open_tasks = await repo.open_tasks(uow.conn, case.id)
        if open_tasks:
            raise conflict("open-children", ("Hay tareas abiertas", "Tasks are still open"),
                           (f"Cierre primero {len(open_tasks)} tarea(s) de esta solicitud.",
                            f"Close this case's {len(open_tasks)} open task(s) first."),
                           open_tasks=[{"id": str(t.id), "title": t.title} for t in open_tasks])
        party, asset = await _party_and_asset(uow.conn, case)
        executive_id, executive_name = await _executive(uow.conn, case, party)
        accepted = [o.kind for o in await q.offers_of_case(uow.conn, case.id) if o.accepted]
        now = utcnow()
        await uow.conn.execute(attachments.update().where(a.id == letter.id).values(is_signed_letter=True))
        changed = await repo.update_case(uow.conn, case.id, {
            "status": new.value, "updated_at": now, "finished_at": now, "overdue_since": None})
        await uow.record(case, who, "desistance_registered", {
            "letter_attachment_id": str(letter.id), "filename": letter.filename, "note": note,
            "offers_accepted": accepted, "executive_id": str(executive_id) if executive_id else None,
            "executive_name": executive_name})
        await uow.record(case, who, lifecycle.Action.FINISH_SUCCESS.value,
                         {"from": case.status, "to": new.value, "text": retention.RETAINED})
        await uow.emit_case_event(case, "case.desistance_registered.v1", DesistanceRegistered(
            case_id=case.id, number=case.number, party_id=party.id if party is not None else None,
            asset_id=case.asset_id, policy_code=asset.code if asset is not None else None,
            executive_id=executive_id, executive_name=executive_name, letter_attachment_id=letter.id,
            offers_accepted=accepted, by=who.user_id, by_name=who.name, at=now))
        await uow.emit_case_event(case, "case.finished.v1", CaseTransition(
            case_id=case.id, status_from=case.status, status_to=new.value, by=who.user_id, by_name=who.name, at=now,
            text=retention.RETAINED, responsible_id=case.responsible_id))
    return changed


__all__ = ["answer_offer", "letter_data", "list_offers", "record_offer", "register_desistance"]
