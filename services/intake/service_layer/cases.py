"""TEMPORARY (branch hierarchy): the case loaders the hierarchy's use cases need. Helper
"cases" provides the real module; the lead replaces this file with it at merge."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select

from services.intake.adapters.db import cases
from services.intake.adapters.party_tables import can_see_party_id
from services.intake.domain.access import CaseAction, Principal, can_act_on_case
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.db import Database
from shared.refusals import forbidden, not_found

CASE_NOT_FOUND = ("Solicitud no encontrada", "Case not found")
_FORBIDDEN = ("Sólo el responsable o un administrador puede hacer esto en esta solicitud.",
              "Only the responsible or an administrator may do this on this case.")


async def _checked(conn: Any, who: Principal, row: Row[Any] | None, action: CaseAction) -> Row[Any]:
    # R2.7: a case of a party hidden from the caller is as invisible as another tenant's (404).
    if row is None or row.tenant != who.tenant or not await can_see_party_id(conn, who, row.party_id):
        raise not_found(CASE_NOT_FOUND)
    if not can_act_on_case(who, action, responsible_id=row.responsible_id, project=row.project):
        raise forbidden(_FORBIDDEN)
    return row


async def case_for_update(uow: UnitOfWork, who: Principal, case_id: uuid.UUID, action: CaseAction) -> Row[Any]:
    """The case locked FOR UPDATE, checked (R4.4, R2.7) on the row as locked."""
    row = (await uow.conn.execute(select(cases).where(cases.c.id == case_id).with_for_update())).first()
    return await _checked(uow.conn, who, row, action)


async def visible_case(db: Database, who: Principal, case_id: uuid.UUID, action: CaseAction) -> Row[Any]:
    """The case for a read: 404 if not the caller's tenant's or hidden (R2.7), 403 if R4.4 forbids."""
    async with db.read() as conn:
        row = (await conn.execute(select(cases).where(cases.c.id == case_id))).first()
        return await _checked(conn, who, row, action)
