"""Use cases of attachments on interactions (R2.2), cases (R0.1, R2.3) and tasks: upload, list,
download.

- Who: on a case or a task, whoever may comment on the case (R4.4: its responsible, admins,
  supervisors, and executors on others' cases, as for comments); on an interaction, whoever may
  register interactions and see it. Lists and downloads: whoever may see the case or the
  interaction; another tenant's (or a hidden party's, R2.7) is 404.
- What: the whole file is checked by ``hierarchy.check_upload`` (type by its bytes, declared
  type and extension agreeing, no markup/script anywhere, nothing after the format's end).
- Storage: the bytes are in intake's ``attachments`` table (an object store can replace it
  behind the same use cases)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Row

from services.intake.adapters import case_tables as q
from services.intake.domain import hierarchy
from services.intake.domain.access import CaseAction, Principal
from services.intake.service_layer import tasks
from services.intake.service_layer.cases import case_for_update, visible_case
from services.intake.service_layer.interactions import visible_interaction
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.contracts.events import AttachmentAdded
from shared.db import Database, utcnow
from shared.paging import Page, PageQuery
from shared.refusals import Refused, field_error, forbidden, invalid, not_found

T = TypeVar("T")
Owner = Literal["interaction", "case", "task"]
ATTACHMENT_NOT_FOUND = ("Archivo adjunto no encontrado", "Attachment not found")


async def _may_read(db: Database, who: Principal, kind: str, owner_id: uuid.UUID) -> None:
    """404 (or 403) unless the caller may see the owner."""
    if kind == "interaction":
        async with db.read() as conn:
            await visible_interaction(conn, who, owner_id)
    elif kind == "task":
        await tasks.get_task(db, who, owner_id)
    else:
        await visible_case(db, who, owner_id, CaseAction.READ)


async def upload(db: Database, who: Principal, kind: Owner, owner_id: uuid.UUID, *, data: bytes,
                 filename: str | None, declared_type: str | None, max_bytes: int) -> q.Record:
    """Store one file on its owner: the owner is locked and the caller's right to attach
    checked on it first, then the whole file is checked (422 naming ``file``)."""
    async with UnitOfWork(db) as uow:
        case: Row[Any] | None = None
        if kind == "interaction":
            await visible_interaction(uow.conn, who, owner_id, lock="share")
            if not hierarchy.can_register_interaction(who):
                raise forbidden(("Su perfil no puede adjuntar archivos a atenciones.",
                                 "Your profile may not attach files to interactions."))
        elif kind == "task":
            case = await tasks.task_for_attachment(uow, who, owner_id, CaseAction.COMMENT)
        else:
            case = await case_for_update(uow, who, owner_id, CaseAction.COMMENT)
        try:
            content_type = hierarchy.check_upload(data, declared_type, max_bytes, filename)
        except hierarchy.Refused as exc:
            if exc.code == "file_too_large":
                raise too_large(max_bytes) from None
            raise invalid(field_error("file", exc.message, exc.code, **exc.extra)) from None
        now = utcnow()
        row = await q.insert_attachment(uow.conn, {
            "id": uuid.uuid4(), "tenant": who.tenant, "owner_kind": kind, "owner_id": owner_id,
            "case_id": case.id if case is not None else None,
            "filename": hierarchy.safe_filename(filename, content_type), "content_type": content_type,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "content": data,
            "uploaded_by": who.user_id, "uploaded_at": now, "is_signed_letter": False})
        event = AttachmentAdded(attachment_id=row.id, owner_kind=kind, owner_id=owner_id, case_id=row.case_id,
                                filename=row.filename, content_type=content_type, size=row.size, sha256=row.sha256,
                                by=who.user_id, at=now)
        if case is not None:
            await uow.record(case, who, "attachment_added", {
                "attachment_id": str(row.id), "owner_kind": kind, "owner_id": str(owner_id),
                "filename": row.filename, "content_type": content_type, "size": row.size, "sha256": row.sha256})
            await uow.emit(case.tenant, "attachment.added.v1", event, subject=str(case.id))
        else:
            await uow.emit(who.tenant, "attachment.added.v1", event, subject=str(owner_id))
    return row


def too_large(max_bytes: int) -> Refused:
    """413: the file is over ``ATIENDE_ATTACHMENT_MAX_BYTES``."""
    mb = max_bytes / (1024 * 1024)
    return Refused(413, "file-too-large", ("Archivo demasiado grande", "File too large"),
                   (f"El máximo es {mb:g} MB.", f"The limit is {mb:g} MB."), max_bytes=max_bytes)


async def list_(db: Database, who: Principal, kind: Owner, owner_id: uuid.UUID, page: PageQuery,
                item: Callable[[Any], T]) -> Page[T]:
    """The owner's attachments (without their bytes), oldest first."""
    after = page.after("attachments", datetime, uuid.UUID)
    await _may_read(db, who, kind, owner_id)
    async with db.read() as conn:
        rows = await q.list_attachments(conn, who.tenant, kind, owner_id, after=after, limit=page.limit + 1)
    return Page.of(rows, page, "attachments", key=lambda r: (r.uploaded_at, r.id), item=item)


async def download(db: Database, who: Principal, attachment_id: uuid.UUID) -> q.Record:
    """The file, for whoever may see its case or interaction; otherwise 404 for the file."""
    async with db.read() as conn:
        row = await q.get_attachment(conn, attachment_id)
    if row is None or row.tenant != who.tenant:
        raise not_found(ATTACHMENT_NOT_FOUND)
    try:
        await _may_read(db, who, row.owner_kind, row.owner_id)
    except Refused as exc:
        if exc.status == 404:
            raise not_found(ATTACHMENT_NOT_FOUND) from None
        raise
    return row
