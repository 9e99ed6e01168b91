"""The use cases of a case (R4.2–R4.8, R0.3–R0.5, R2.3, R1.2): create it, read it, and every
action an agent takes on it. Each one is one transaction over a ``UnitOfWork``: load the case
``FOR UPDATE``, check tenant and R2.7 visibility (404) and R4.4 (403) on the row as locked, check
the lifecycle, change it, append its history line (``uow.record``) and write its event to the
outbox (``uow.emit_case_event``, numbered with the case's version). Refusals change nothing.

Other aggregates that act on a case (tasks, attachments) load it with ``case_for_update`` (in
their own transaction) or ``visible_case`` (reads)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters import repository as repo
from services.intake.adapters import time_tables, triage_queries
from services.intake.adapters.case_tables import attachments
from services.intake.adapters.db import cases, users
from services.intake.adapters.party_tables import assets, can_see_party_id, parties
from services.intake.domain import access, case_entry, lifecycle, timing, triage
from services.intake.domain.access import CaseAction, Principal
from services.intake.domain.catalog import CaseTypeRules, effective_default_priority
from services.intake.domain.numbering import format_case_number, request_fingerprint
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import (
    CaseAssigned,
    CaseCommented,
    CaseCreated,
    CaseMailRequested,
    CasePriorityChanged,
    CaseReclassified,
    CaseTransition,
    CaseTriageEscalated,
    CaseTypeRef,
    Contact,
    DeadlineRule,
    MailAttachment,
    SlaPolicy,
)
from shared.db import Database, utcnow
from shared.refusals import FieldErrors, Refused, conflict, field_error, forbidden, invalid, not_found

CASE_NOT_FOUND = ("Solicitud no encontrada", "Case not found")
NOT_YOURS = ("Sólo el responsable o un administrador puede hacer esto en esta solicitud.",
             "Only the responsible or an administrator may do this on this case.")
UNKNOWN_RESPONSIBLE = ("El responsable no es un usuario activo de este cliente.",
                       "The responsible is not an active user of this tenant.")


# -- loading a case ---------------------------------------------------------------------------
async def _load(conn: AsyncConnection, who: Principal, case_id: uuid.UUID, *, lock: bool) -> Row[Any]:
    """The tenant's case, if the caller may see it. Another tenant's case, or one of a party
    hidden from the caller (R2.7), is 404, never 403: its existence is not revealed."""
    row = await repo.tenant_case(conn, who.tenant, case_id, lock=lock)
    if row is None or (row.party_id is not None and not await can_see_party_id(conn, who, row.party_id)):
        raise not_found(CASE_NOT_FOUND)
    return row


def _require(who: Principal, action: CaseAction, row: Any, *, hold_type: bool = False) -> None:
    if not access.can_act_on_case(who, action, responsible_id=row.responsible_id, project=row.project,
                                  hold_type=hold_type):
        raise forbidden(NOT_YOURS)


async def case_for_update(uow: UnitOfWork, who: Principal, case_id: uuid.UUID, action: CaseAction) -> Row[Any]:
    """The case locked ``FOR UPDATE`` in ``uow``'s transaction, after the visibility (404) and
    R4.4 (403) checks made on the row as locked."""
    row = await _load(uow.conn, who, case_id, lock=True)
    _require(who, action, row)
    return row


async def visible_case(db: Database, who: Principal, case_id: uuid.UUID, action: CaseAction) -> Row[Any]:
    """For reads: the case if the caller may see it and R4.4 lets them do ``action``."""
    async with db.read() as conn:
        row = await _load(conn, who, case_id, lock=False)
    _require(who, action, row)
    return row


async def get_case(db: Database, who: Principal, case_id: uuid.UUID) -> Row[Any]:
    return await visible_case(db, who, case_id, CaseAction.READ)


# -- creating a case (R4.2, R4.3) -----------------------------------------------------------
@dataclass(frozen=True)
class Created:
    """What POST /cases answers: the case as stored (or as first stored, for a replay)."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


async def create_case(db: Database, catalog: repo.CatalogCache, who: Principal, body: Any, *,
                      present: Callable[[Any], dict[str, Any]], schema_errors: list[dict[str, Any]] | None = None,
                      idempotency_key: str | None = None) -> Created:
    """Register a customer's request. ``body`` is the parsed request (a ``CaseIn``; when the
    request had schema errors, ``schema_errors`` lists them and ``body`` carries only its valid
    fields). ``present`` turns a stored case row into the response body (it is also what an
    Idempotency-Key replays).

    Every problem is reported in one 422: the schema's, the cross-field rules, and the catalog
    codes (cached, no round trip) are checked together; the records a case refers to (the
    responsible, interaction, party, asset, original) once the body is well-formed."""
    try:
        project = access.project_to_create_in(who, body.project)  # R4.4: before anything else
    except access.CreateRefusal as r:
        if r.field is None:
            raise forbidden(r.message) from None
        project = body.project
        errors = FieldErrors()
        errors.add(r.field, r.message, r.code)
    else:
        errors = FieldErrors()
    tenant = await catalog.tenant(who.tenant)
    assert tenant is not None  # a principal always belongs to an existing tenant
    ctype = None
    if body.type is not None:
        ctype = await catalog.case_type(who.tenant, body.type)
        if ctype is None:
            errors.add("type", ("El tipo de solicitud no existe para este cliente.",
                                "This tenant has no such case type."), "unknown_case_type")
    if schema_errors:
        errors.items[:0] = schema_errors
    for field, message, code in case_entry.cross_field_problems(
            responsible_id=body.responsible_id, responsible_email=body.responsible_email,
            association=body.association, party_id=body.party_id, asset_id=body.asset_id,
            internal_commitment=body.internal_commitment_date, customer_commitment=body.customer_commitment_date):
        errors.add(field, message, code)
    for field, message, code in case_entry.catalog_problems(
            channel=body.channel, area=body.area, project=project, category_path=body.category_path,
            channels=await catalog.active_codes(who.tenant, "channel") if body.channel else frozenset(),
            areas=await catalog.active_codes(who.tenant, "area") if body.area else frozenset(),
            projects=await catalog.active_codes(who.tenant, "project") if project else frozenset(),
            category_paths=await catalog.active_category_paths(who.tenant) if body.category_path else frozenset()):
        errors.add(field, message, code)
    pinned: dict[str, Any] = {}
    type_priority = lifecycle.Priority.NORMAL
    if ctype is not None:
        pinned, type_priority = _apply_type(ctype, body, project, errors)
    try:
        priority = lifecycle.initial_priority(body.priority, type_priority)
    except lifecycle.PriorityRefused as exc:
        errors.add("priority", exc.message, exc.code)
    if body.due_date is not None and not who.is_admin:
        errors.add("due_date", ("Sólo un administrador fija la fecha límite a mano.",
                                "Only an administrator sets the deadline by hand."), "admin_only")
    if schema_errors:
        errors.raise_if_any()
    responsible = None
    if not any(e["code"] == "responsible" for e in errors.items):
        responsible = await catalog.active_user(who.tenant, body.responsible_id, body.responsible_email)
        if responsible is None:
            errors.add("responsible_id" if body.responsible_id else "responsible_email", UNKNOWN_RESPONSIBLE,
                       "unknown_responsible")
    if body.interaction_id or body.follow_up_of or body.party_id or body.asset_id:
        async with db.read() as conn:
            errors.extend(await _reference_errors(conn, who, body))
    if ctype is not None and (problem := case_entry.precedence_problem(getattr(ctype, "preceded_by", None),
                                                                             body.asset_id)):
        errors.add(*problem)  # R1.4: a surrender is entered on its policy
    errors.raise_if_any()
    assert ctype is not None and responsible is not None

    fingerprint = request_fingerprint(body.model_dump(mode="json"))
    if idempotency_key:
        async with db.read() as conn:
            earlier = await repo.find_idempotent(conn, who.tenant, idempotency_key)
        if earlier is not None:
            return _replay(earlier, fingerprint)
    kind = triage.kind_of(ctype.follow_up_kind) if body.follow_up_of is not None else None
    if body.follow_up_of is not None and kind in triage.TABLE_KINDS:
        await _refuse_if_escalated(db, who, body.follow_up_of, disagreement=kind == triage.FollowUpKind.DISAGREEMENT)
    if getattr(ctype, "preceded_by", None):
        await _refuse_without_predecessor(db, who, ctype, body.asset_id)
    # The number comes from its own short transaction: the tenant's counter row is locked for one
    # statement, not for the whole creation (numbers stay unique; a failed creation leaves a gap).
    async with db.autocommit() as conn:
        number = format_case_number(await repo.next_case_number(conn, who.tenant))
    try:
        async with UnitOfWork(db) as uow:
            if body.interaction_id is not None:
                # Held until commit: closing the interaction (FOR UPDATE) waits for this case, or
                # this waits for it and then sees it closed (R2.6).
                await repo.lock_open_interaction(uow.conn, who.tenant, body.interaction_id)
            row = _new_row(who, body, number=number, project=project, priority=priority, pinned=pinned,
                           responsible=responsible, kind=kind)
            await repo.insert_case(uow.conn, row)
            case = _RowView(row)
            await uow.record(case, who, "created", {"number": number, "type": body.type, "priority": priority.value})
            await uow.emit_case_event(case, "case.created.v1", _created_event(
                tenant, ctype, case, responsible, await _party_executive(uow.conn, case)), created=True)
            out = present(case)
            if idempotency_key:
                await repo.save_idempotent(uow.conn, {"tenant": who.tenant, "key": idempotency_key,
                                                      "request_hash": fingerprint, "status_code": 201,
                                                      "response": out, "created_at": row["created_at"]})
    except IntegrityError:
        if not idempotency_key:
            raise
        # Another request with the same key committed first: answer as it did.
        async with db.read() as conn:
            earlier = await repo.find_idempotent(conn, who.tenant, idempotency_key)
        if earlier is None:
            raise
        return _replay(earlier, fingerprint)
    return Created(201, out)


def _apply_type(ctype: Any, body: Any, project: str | None, errors: FieldErrors) -> tuple[dict[str, Any],
                                                                                        lifecycle.Priority]:
    """R3.2 / R4.2 / R2.3: the type's channels, project scope, required fields, interaction and
    pinned values. Returns the pinned values and the priority the type's cases start with."""
    contact = body.contact
    present = {name for name, value in (
        ("channel", body.channel), ("project", project), ("area", body.area),
        ("category_path", body.category_path), ("contact.phone", getattr(contact, "phone", None)),
        ("party_id", body.party_id), ("interaction_id", body.interaction_id)) if value}
    present |= {"subject", "description", "contact.name", "contact.email"}
    for field, message, code in case_entry.type_problems(case_entry.TypeRules.of(ctype), channel=body.channel,
                                                         project=project, present=present,
                                                         interaction_id=body.interaction_id):
        errors.add(field, message, code)
    pinned = {k: v for k, v in (ctype.pinned or {}).items() if v is not None}
    given = {"category": "/".join(body.category_path) if body.category_path else None, "area": body.area,
             "document_class": body.document_class if "document_class" in body.model_fields_set else None}
    for key, field in (("category", "category_path"), ("area", "area"), ("document_class", "document_class")):
        if key in pinned and given[key] is not None and given[key] != pinned[key]:
            errors.add(field, (f"Este tipo de solicitud fija este campo en «{pinned[key]}».",
                               f"This case type fixes this field to «{pinned[key]}»."), "pinned_by_type")
    default, _ = effective_default_priority(ctype.default_priority, pinned.get("priority"))
    return pinned, lifecycle.Priority(default or "normal")


async def _reference_errors(conn: AsyncConnection, who: Principal, body: Any) -> list[dict[str, Any]]:
    errors = await repo.reference_errors(conn, who.tenant, interaction_id=body.interaction_id,
                                         follow_up_of=body.follow_up_of)
    if body.party_id is not None and not await can_see_party_id(conn, who, body.party_id):
        # R2.7: unknown and hidden look alike.
        errors.append(field_error("party_id", ("El cliente o contraparte no existe.", "No such party."),
                                  "unknown_party"))
    if body.asset_id is not None:
        asset = (await conn.execute(select(assets.c.party_id).where(
            assets.c.id == body.asset_id, assets.c.tenant == who.tenant))).first()
        if asset is None or not await can_see_party_id(conn, who, asset.party_id):
            errors.append(field_error("asset_id", ("La propiedad o activo no existe.", "No such asset."),
                                      "unknown_asset"))
    return errors


def _new_row(who: Principal, body: Any, *, number: str, project: str | None, priority: lifecycle.Priority,
             pinned: dict[str, Any], responsible: Any, kind: triage.FollowUpKind | None) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": uuid.uuid4(), "tenant": who.tenant, "number": number, "type_code": body.type,
        "subject": body.subject, "description": body.description, "contact_name": body.contact.name,
        "contact_email": body.contact.email, "contact_phone": body.contact.phone,
        "responsible_email": responsible.email, "responsible_id": responsible.id,
        "project": project, "created_by": who.user_id, "priority": priority.value,
        "status": lifecycle.Status.NEW.value, "created_at": now, "due_at": None, "due_date": None,
        "overdue_since": None, "channel": body.channel,
        "category_path": body.category_path or (pinned["category"].split("/") if "category" in pinned else None),
        "area": body.area or pinned.get("area"),
        "document_class": pinned.get("document_class", body.document_class), "start_date": body.start_date,
        "customer_commitment_date": body.customer_commitment_date,
        "internal_commitment_date": body.internal_commitment_date, "explicit_due_date": body.due_date,
        "interaction_id": body.interaction_id, "party_id": body.party_id,
        "asset_id": body.asset_id, "association": body.association, "follow_up_of": body.follow_up_of,
        # R3.1: the kind comes from the type's catalog entry, not from its code.
        "follow_up_kind": kind.value if kind is not None else None, "not_satisfied": body.not_satisfied,
        "answered_at": None, "finished_at": None, "updated_at": now, "version": 1}


async def _party_executive(conn: AsyncConnection, case: Any) -> uuid.UUID | None:
    """R1.1: the commercial executive of the case's party (without one: of its asset's owner)."""
    party_id = case.party_id
    if party_id is None and case.asset_id is not None:
        party_id = (await conn.execute(select(assets.c.party_id).where(assets.c.id == case.asset_id))).scalar()
    if party_id is None:
        return None
    return (await conn.execute(select(parties.c.executive_id).where(parties.c.id == party_id))).scalar()


def _created_event(tenant: Any, ctype: Any, case: Any, responsible: Any,
                   executive_id: uuid.UUID | None = None) -> CaseCreated:
    # Issue 10: the type's calendar, else the area's, else "default", with that calendar's version.
    calendar_code, calendar_version = tenant.calendar_for(getattr(ctype, "sla", None), case.area)
    return CaseCreated(
        case_id=case.id, number=case.number, tenant_country=tenant.country, tenant_timezone=tenant.timezone,
        language=tenant.language, case_type=case_type_ref(tenant, ctype),
        subject=case.subject, description=case.description,
        contact=Contact(name=case.contact_name, email=case.contact_email, phone=case.contact_phone),
        responsible_email=responsible.email, responsible_id=responsible.id, responsible_name=responsible.name,
        project=case.project, created_by=case.created_by, explicit_due_date=case.explicit_due_date,
        follow_up_of=case.follow_up_of, channel=case.channel, area=case.area, party_id=case.party_id,
        priority=case.priority, status=case.status, created_at=case.created_at,
        calendar_code=calendar_code, calendar_version=calendar_version,
        internal_commitment_date=case.internal_commitment_date, customer_commitment_date=case.customer_commitment_date,
        party_executive_id=executive_id, asset_id=case.asset_id)


async def _refuse_if_escalated(db: Database, who: Principal, follow_up_of: uuid.UUID, *, disagreement: bool) -> None:
    """R3.4 rules 6–8: "escalate to the supervisor; no new request". The decision is triage's for
    the original (a disagreement follow-up means the customer disagrees); any other rule lets the
    follow-up through (the agent may have reasons). Refused before a number is taken: nothing is
    stored, nothing is published."""
    async with db.read() as conn:
        parent = await repo.tenant_case(conn, who.tenant, follow_up_of)
        if parent is None:
            return  # the reference check already answered 422
        st = await triage_queries.decision_for(
            conn, who, parent, customer_disagrees=True if disagreement else None, business_line=None, now=utcnow())
    d = st.decision
    if d.new_request_allowed:
        return
    message = triage.message(d, number=st.original.number)
    f = st.table_follow_up
    raise conflict("escalate-to-supervisor",
                   ("Corresponde escalar al supervisor, no un nuevo requerimiento",
                    "Escalate to the supervisor instead of filing a new request"),
                   (f"R3.4, regla {d.rule}: {message[0]} No se creó nada.",
                    f"R3.4, rule {d.rule}: {message[1]} Nothing was created."),
                   [field_error("follow_up_of", message, "escalate_to_supervisor")],
                   rule=d.rule, action=d.action.value, original_id=str(st.original.id),
                   table_follow_up_id=str(f.id) if f is not None else None)


async def _refuse_without_predecessor(db: Database, who: Principal, ctype: Any, asset_id: uuid.UUID) -> None:
    """R1.4: a type with ``preceded_by`` (a surrender) is entered only when a case of that type (the
    retention request) exists for the same policy (asset) in the tenant, in any state. Refused
    (409 "retention-required", naming the missing type and the policy) before a number is taken."""
    async with db.read() as conn:
        earlier = (await conn.execute(select(cases.c.id).where(
            cases.c.tenant == who.tenant, cases.c.asset_id == asset_id,
            cases.c.type_code == ctype.preceded_by).limit(1))).first()
        if earlier is not None:
            return
        missing = await repo.case_type_any(conn, who.tenant, ctype.preceded_by)
        policy = (await conn.execute(select(assets.c.code).where(assets.c.id == asset_id))).scalar()
    names = (missing.name_es, missing.name_en) if missing is not None else (ctype.preceded_by, ctype.preceded_by)
    title, detail = case_entry.precedence_texts((ctype.name_es, ctype.name_en), names, policy or str(asset_id))
    raise conflict("retention-required", title, detail, missing_type=ctype.preceded_by, asset_id=str(asset_id),
                   policy=policy)


def _replay(earlier: Any, fingerprint: str) -> Created:
    if earlier.request_hash != fingerprint:
        raise Refused(422, "idempotency-key-reused",
                      ("La clave de idempotencia ya se usó con otros datos",
                       "Idempotency-Key already used with a different body"),
                      ("Use una clave nueva para una solicitud distinta; no se creó nada.",
                       "Use a new key for a different request; nothing was created."),
                      [field_error("Idempotency-Key", ("Clave reutilizada con otro contenido.",
                                                       "Key reused with different content."),
                                   "idempotency_key_reused", where="header")])
    return Created(earlier.status_code, earlier.response, replayed=True)


class _RowView:
    """A row dict read like a database row (attributes)."""

    id: uuid.UUID
    tenant: str
    version: int

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


# -- state changes (R4.6, R4.8, R2.6, R1.2) ---------------------------------------------------
TRANSITION_EVENTS = {lifecycle.Action.EXECUTE: "case.executed.v1", lifecycle.Action.WAIT: "case.paused.v1",
                     lifecycle.Action.RESUME: "case.resumed.v1", lifecycle.Action.FINISH_SUCCESS: "case.finished.v1",
                     lifecycle.Action.FINISH_FAILURE: "case.finished.v1", lifecycle.Action.REOPEN: "case.reopened.v1"}
PERMISSIONS = {lifecycle.Action.EXECUTE: CaseAction.EXECUTE, lifecycle.Action.WAIT: CaseAction.EXECUTE,
               lifecycle.Action.RESUME: CaseAction.EXECUTE, lifecycle.Action.FINISH_SUCCESS: CaseAction.FINISH,
               lifecycle.Action.FINISH_FAILURE: CaseAction.FINISH, lifecycle.Action.REOPEN: CaseAction.REOPEN}
FINISHING = (lifecycle.Action.FINISH_SUCCESS, lifecycle.Action.FINISH_FAILURE)


async def transition(db: Database, who: Principal, case_id: uuid.UUID, action: lifecycle.Action,
                     text: str | None) -> Row[Any]:
    """Execute, pause, resume, finish or reopen; returns the case as changed."""
    async with UnitOfWork(db) as uow:
        case = await _load(uow.conn, who, case_id, lock=True)
        _require(who, PERMISSIONS[action], case,  # R1.4/R4.4: Operations executes the cases of hold types
                 hold_type=who.has(access.Role.OPERATIONS) and await _is_hold_type(uow.conn, case))
        try:
            new = lifecycle.next_status(lifecycle.Status(case.status), action)
        except lifecycle.IllegalTransition as exc:
            raise conflict("illegal-transition", ("Acción no permitida en este estado",
                                                  "Action not allowed in this state"),
                           lifecycle.illegal_transition_text(exc), status_now=case.status,
                           allowed_actions=[a.value for a in exc.allowed]) from None
        if action in FINISHING:
            await _refuse_unfinishable(uow.conn, case)
        if action == lifecycle.Action.EXECUTE:
            await _refuse_on_hold(uow.conn, case)
        now = utcnow()
        values: dict[str, Any] = {"status": new.value, "updated_at": now}
        if action == lifecycle.Action.EXECUTE and case.answered_at is None:
            values["answered_at"] = now  # "the area answered" (R3.3, R3.4)
        if new in lifecycle.FINISHED:
            values["finished_at"] = now
        if action == lifecycle.Action.REOPEN:
            values["finished_at"] = None
        if lifecycle.clears_overdue(action):
            values["overdue_since"] = None  # R4.8: the alert ends when executed or finished
        changed = await repo.update_case(uow.conn, case.id, values)
        await uow.record(case, who, action.value, {"from": case.status, "to": new.value, "text": text})
        await uow.emit_case_event(case, TRANSITION_EVENTS[action], CaseTransition(
            case_id=case.id, status_from=case.status, status_to=new.value, by=who.user_id, by_name=who.name, at=now,
            text=text, responsible_id=case.responsible_id))
    return changed


async def _refuse_on_hold(conn: AsyncConnection, case: Any) -> None:
    """R1.4: before the date workflow set (case.hold_set.v1), executing is refused, naming it."""
    held = await time_tables.clocks_of(conn, case.id)
    if held is None or not timing.on_hold(held.executable_from, utcnow()):
        return
    day = held.executable_from_date or held.executable_from.date()
    title, detail = timing.hold_texts(day)
    raise conflict("on-hold", title, detail, executable_from=held.executable_from.isoformat(),
                   executable_from_date=day.isoformat())


async def _refuse_unfinishable(conn: AsyncConnection, case: Any) -> None:
    """R2.6: a case closes only when all its tasks are closed; R1.2: a type that requires
    attachments to finish (the signed desistance letter) needs at least one. Each refusal names
    what is missing."""
    open_tasks = await repo.open_tasks(conn, case.id)
    if open_tasks:
        raise conflict("open-children", ("Hay tareas abiertas", "Tasks are still open"),
                       (f"Cierre primero {len(open_tasks)} tarea(s) de esta solicitud.",
                        f"Close this case's {len(open_tasks)} open task(s) first."),
                       open_tasks=[{"id": str(t.id), "title": t.title} for t in open_tasks])
    ctype = await repo.case_type_any(conn, case.tenant, case.type_code)
    if ctype is not None and ctype.requires_attachments_to_finish and await repo.attachment_count(conn, case.id) == 0:
        raise conflict("attachments-required", ("Faltan adjuntos para finalizar", "Attachments are missing"),
                       (f"Las solicitudes de tipo «{ctype.name_es}» se finalizan con al menos un adjunto (p. ej. la "
                        "carta firmada, R1.2); esta no tiene ninguno. Adjúntelo y finalice de nuevo.",
                        f"Cases of type «{ctype.name_en}» are finished with at least one attachment (e.g. the "
                        "signed letter, R1.2); this one has none. Attach it and finish again."),
                       missing=["attachments"])


async def _is_hold_type(conn: AsyncConnection, case: Any) -> bool:
    ctype = await repo.case_type_any(conn, case.tenant, case.type_code)
    return ctype is not None and timing.is_hold_type(getattr(ctype, "sla", None))


async def revert(db: Database, who: Principal, case_id: uuid.UUID, reason: str) -> Row[Any]:
    """R1.4: during the hold (now < ``executable_from``, as workflow published it) the case's
    responsible (the commercial executive), a supervisor or an admin reverts it: it ends as
    finished_failure with the outcome "reverted" and the reason (history ``reverted``;
    case.finished.v1, so workflow stops its clocks and notifier mails as for a finish). After the
    window: 409 "hold-over" naming the date; a case without a hold: 409 "no-hold"."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.REVERT)
        try:
            new = lifecycle.next_status(lifecycle.Status(case.status), lifecycle.Action.REVERT)
        except lifecycle.IllegalTransition as exc:
            raise conflict("illegal-transition", ("Acción no permitida en este estado",
                                                  "Action not allowed in this state"),
                           lifecycle.illegal_transition_text(exc), status_now=case.status,
                           allowed_actions=[a.value for a in exc.allowed]) from None
        held = await time_tables.clocks_of(uow.conn, case.id)
        now = utcnow()
        if held is None or held.executable_from is None:
            raise conflict("no-hold", *timing.NO_HOLD)
        if not timing.on_hold(held.executable_from, now):
            day = held.executable_from_date or held.executable_from.date()
            title, detail = timing.hold_over_texts(day)
            raise conflict("hold-over", title, detail, executable_from=held.executable_from.isoformat(),
                           executable_from_date=day.isoformat())
        open_tasks = await repo.open_tasks(uow.conn, case.id)
        if open_tasks:  # R2.6, as for finishing
            raise conflict("open-children", ("Hay tareas abiertas", "Tasks are still open"),
                           (f"Cierre primero {len(open_tasks)} tarea(s) de esta solicitud.",
                            f"Close this case's {len(open_tasks)} open task(s) first."),
                           open_tasks=[{"id": str(t.id), "title": t.title} for t in open_tasks])
        changed = await repo.update_case(uow.conn, case.id, {"status": new.value, "updated_at": now,
                                                             "finished_at": now, "overdue_since": None})
        await uow.record(case, who, "reverted", {"from": case.status, "to": new.value,
                                                 "outcome": lifecycle.REVERTED, "reason": reason, "text": reason})
        await uow.emit_case_event(case, "case.finished.v1", CaseTransition(
            case_id=case.id, status_from=case.status, status_to=new.value, by=who.user_id, by_name=who.name, at=now,
            text=reason, responsible_id=case.responsible_id))
    return changed


# -- the other actions (R4.6, R0.4) -----------------------------------------------------------
async def comment(db: Database, who: Principal, case_id: uuid.UUID, text: str) -> None:
    """R4.6 internal comment; allowed to every executor on any case (R4.4)."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.COMMENT)
        await uow.record(case, who, "commented", {"text": text})
        await uow.emit_case_event(case, "case.commented.v1", CaseCommented(
            case_id=case.id, text=text, by=who.user_id, by_name=who.name, at=utcnow(),
            responsible_id=case.responsible_id))


async def send_mail(db: Database, catalog: repo.CatalogCache, who: Principal, case_id: uuid.UUID, *,
                    to: list[str] | None, cc: list[str], subject: str, body: str, include_details: bool,
                    attachment_ids: list[uuid.UUID] | None = None) -> None:
    """R4.6 "Enviar mail": notifier sends it (to the contact unless told otherwise); at most the
    tenant's ``max_mail_recipients`` distinct addresses (to + cc) in one request; chosen files of
    the case (or of its tasks) go with it, their bytes in the event (notifier never reads intake's
    files), at most ``MAIL_ATTACHMENTS_MAX_BYTES`` together."""
    to_ = list(dict.fromkeys(a.lower() for a in to)) if to else None
    cc_ = list(dict.fromkeys(a.lower() for a in cc))
    tenant = await catalog.tenant(who.tenant)
    cap = int(tenant.max_mail_recipients) if tenant is not None else 20
    count = len(set(to_ or ["<contact>"]) | set(cc_))
    if count > cap:
        raise invalid(field_error("to", (f"Un correo va a lo más a {cap} destinatarios (para y copia); "
                                         f"se indicaron {count}.",
                                         f"A mail goes to at most {cap} recipients (to and cc); {count} were given."),
                                  "too_many_recipients", max_recipients=cap))
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.SEND_MAIL)
        files = await _mail_attachments(uow.conn, case, list(dict.fromkeys(attachment_ids or [])))
        recipients = to_ or [case.contact_email]
        await uow.record(case, who, "mail_requested", {"to": recipients, "cc": cc_, "subject": subject,
                                                       "include_details": include_details,
                                                       "attachments": [f.filename for f in files]})
        await uow.emit_case_event(case, "case.mail_requested.v1", CaseMailRequested(
            case_id=case.id, to=recipients, cc=cc_, subject=subject, body=body, include_details=include_details,
            by=who.user_id, by_name=who.name, at=utcnow(), attachments=files))


MAIL_ATTACHMENTS_MAX_BYTES = 10 * 1024 * 1024


async def _mail_attachments(conn: AsyncConnection, case: Any, ids: list[uuid.UUID]) -> list[MailAttachment]:
    """The chosen files, each one of this case's (its own or its tasks'); 422 on ``attachment_ids``
    for one that is not, or when together they exceed the bound."""
    if not ids:
        return []
    a = attachments.c
    rows = {r.id: r for r in (await conn.execute(select(attachments).where(
        a.id.in_(ids), a.tenant == case.tenant, a.case_id == case.id))).all()}
    missing = [str(i) for i in ids if i not in rows]
    if missing:
        raise invalid(field_error("attachment_ids", ("Esos archivos no son de esta solicitud.",
                                                     "Those files are not this case's."),
                                  "unknown_attachment", ids=missing))
    total = sum(r.size for r in rows.values())
    if total > MAIL_ATTACHMENTS_MAX_BYTES:
        raise invalid(field_error("attachment_ids", ("Los archivos suman más de 10 MiB.",
                                                     "The files add up to more than 10 MiB."),
                                  "attachments_too_large", max_bytes=MAIL_ATTACHMENTS_MAX_BYTES, size=total))
    return [MailAttachment(attachment_id=r.id, filename=r.filename, content_type=r.content_type, size=r.size,
                           sha256=r.sha256, content_b64=base64.b64encode(r.content).decode()) for r in
            (rows[i] for i in ids)]


async def set_priority(db: Database, who: Principal, case_id: uuid.UUID, priority: lifecycle.Priority,
                       reason: lifecycle.RaiseReason | None, reason_text: str | None) -> Row[Any]:
    """R0.4: raising needs a reason; lowering does not. Every change is in history and in the
    R0.5 priority-use report."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.CHANGE_PRIORITY)
        try:
            ch = lifecycle.change_priority(lifecycle.Priority(case.priority), priority, reason, reason_text)
        except lifecycle.PriorityRefused as exc:
            raise invalid(field_error("reason" if "reason" in exc.code else "priority", exc.message,
                                      exc.code)) from None
        now = utcnow()
        changed = await repo.update_case(uow.conn, case.id, {"priority": ch.new.value, "updated_at": now})
        await uow.record(case, who, "priority_changed", {"from": ch.old.value, "to": ch.new.value,
                                                         "reason": ch.reason, "reason_text": ch.reason_text})
        await uow.emit_case_event(case, "case.priority_changed.v1", CasePriorityChanged(
            case_id=case.id, old=ch.old.value, new=ch.new.value, raised=ch.raised, reason=ch.reason,
            reason_text=ch.reason_text, notify=list(ch.notify), by=who.user_id, by_name=who.name, at=now,
            responsible_id=case.responsible_id, area=case.area))
    return changed


async def assign(db: Database, who: Principal, case_id: uuid.UUID, responsible_id: uuid.UUID) -> Row[Any]:
    """Give the case another responsible (an active user of the tenant)."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.ASSIGN)
        user = (await uow.conn.execute(select(users.c.id, users.c.email).where(
            users.c.id == responsible_id, users.c.tenant == who.tenant, users.c.active.is_(True)))).first()
        if user is None:
            raise invalid(field_error("responsible_id", UNKNOWN_RESPONSIBLE, "unknown_responsible"))
        now = utcnow()
        changed = await repo.update_case(uow.conn, case.id, {"responsible_id": user.id,
                                                             "responsible_email": user.email, "updated_at": now})
        await uow.record(case, who, "assigned", {"from": str(case.responsible_id) if case.responsible_id else None,
                                                 "to": str(user.id), "to_email": user.email})
        await uow.emit_case_event(case, "case.assigned.v1", CaseAssigned(
            case_id=case.id, responsible_id=user.id, responsible_email=user.email,
            previous_responsible_id=case.responsible_id, by=who.user_id, at=now))
    return changed


async def history(db: Database, who: Principal, case_id: uuid.UUID, after: int | None,
                  limit: int) -> list[Any]:
    """R4.6 "Historial": one page (``limit + 1`` rows, oldest first) after entry ``after``."""
    await visible_case(db, who, case_id, CaseAction.HISTORY)
    async with db.read() as conn:
        return await repo.history_page(conn, case_id, after, limit + 1)


# -- time (issue 10): reclassify, escalate to the supervisor ------------------------------------
NOT_SUPERVISOR = ("Sólo un supervisor o un administrador reclasifica una solicitud.",
                  "Only a supervisor or an administrator reclassifies a case.")


def case_type_ref(tenant: Any, ctype: Any) -> CaseTypeRef:
    """The type as events carry it: code, name in the tenant's language, deadline rule and SLA
    policy (when the catalog stores one for it)."""
    sla = getattr(ctype, "sla", None) or getattr(ctype, "sla_policy", None)
    return CaseTypeRef(code=ctype.code, name=ctype.name_es if tenant.language == "es" else ctype.name_en,
                       deadline=DeadlineRule(unit=ctype.deadline_unit, amount=ctype.deadline_amount),
                       sla=SlaPolicy.model_validate(sla) if sla else None,
                       churn_alert=bool(getattr(ctype, "churn_alert", False)))


async def reclassify(db: Database, catalog: repo.CatalogCache, who: Principal, case_id: uuid.UUID, type_code: str,
                     reason: str | None) -> Row[Any]:
    """Change the case's type (its SLA policy with it: workflow re-targets the clocks). Admins and
    supervisors only; the type must be an active one of the tenant allowed in the case's project."""
    tenant = await catalog.tenant(who.tenant)
    assert tenant is not None
    async with UnitOfWork(db) as uow:
        case = await _load(uow.conn, who, case_id, lock=True)
        if not timing.may_reclassify(who):
            raise forbidden(NOT_SUPERVISOR)
        ctype = await catalog.case_type(who.tenant, type_code)
        if ctype is None:
            raise invalid(field_error("type", ("El tipo de solicitud no existe o no está activo para este cliente.",
                                               "This tenant has no such active case type."), "unknown_case_type"))
        if type_code == case.type_code:
            raise invalid(field_error("type", ("La solicitud ya es de ese tipo.", "The case already has that type."),
                                      "same_type"))
        scope = CaseTypeRules.of(ctype).projects
        if scope is not None and case.project not in scope:
            raise invalid(field_error("type", ("Este tipo de solicitud no existe en el proyecto de la solicitud.",
                                               "This case type does not exist in the case's project."),
                                      "type_not_in_project"))
        now = utcnow()
        changed = await repo.update_case(uow.conn, case.id, {"type_code": ctype.code, "updated_at": now})
        await uow.record(case, who, "reclassified", {"from": case.type_code, "to": ctype.code, "reason": reason})
        await uow.emit_case_event(case, "case.reclassified.v1", CaseReclassified(
            case_id=case.id, old_type=case.type_code, case_type=case_type_ref(tenant, ctype), by=who.user_id,
            by_name=who.name, at=now, responsible_id=case.responsible_id))
    return changed


async def escalate_to_supervisor(db: Database, who: Principal, case_id: uuid.UUID, message: str, *,
                                 customer_disagrees: bool | None = None) -> int:
    """R3.4 rules 6–8 ("escalate to the supervisor; no new request"): allowed when triage of the
    case says so (409 otherwise, with what triage says instead); workflow tells the supervisor of
    the case's area. Whoever may comment on the case may escalate it (R4.4). Returns the rule."""
    async with UnitOfWork(db) as uow:
        case = await case_for_update(uow, who, case_id, CaseAction.COMMENT)
        st = await triage_queries.decision_for(uow.conn, who, case, customer_disagrees=customer_disagrees,
                                               business_line=None, now=utcnow())
        d = st.decision
        if d.action != triage.Action.ESCALATE_TO_SUPERVISOR:
            says = triage.message(d, number=st.original.number)
            raise conflict("escalation-not-called-for",
                           ("Triage no indica escalar al supervisor", "Triage does not call for escalating"),
                           (f"R3.4, regla {d.rule}: {says[0]} No se escaló.",
                            f"R3.4, rule {d.rule}: {says[1]} Nothing was escalated."),
                           rule=d.rule, action=d.action.value)
        now = utcnow()
        area = case.area or st.original.area
        await uow.record(case, who, "escalated_to_supervisor", {"rule": d.rule, "message": message, "area": area})
        await uow.emit_case_event(case, "case.triage_escalated.v1", CaseTriageEscalated(
            case_id=case.id, rule=d.rule, message=message, area=area, by=who.user_id, by_name=who.name, at=now,
            responsible_id=case.responsible_id))
    return d.rule
