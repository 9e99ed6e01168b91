"""Attachments on interactions, cases and tasks: PDF and images (PNG, JPEG, GIF, WEBP).

- Upload: ``multipart/form-data`` with one ``file`` part. The type is decided from the bytes
  (magic numbers), not from the name or the declared ``Content-Type`` (a declared type that
  disagrees is refused); at most ``ATIENDE_ATTACHMENT_MAX_BYTES`` (10 MB by default; 413 above);
  the SHA-256 is stored and returned.
- Who: on a case or a task, whoever may comment on the case (R4.4: its responsible, admins,
  supervisors, and executors on others' cases, as for comments); on an interaction, whoever may
  register interactions and see it. Download and lists: whoever may see the case or the
  interaction; another tenant's (or a hidden party's) attachment is 404.
- Storage: the bytes are in intake's ``attachments`` table for now (fine at these sizes and
  volumes; an object store can replace it behind the same endpoints).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import insert, select
from starlette.datastructures import UploadFile

from services.intake.adapters.case_tables import attachments
from services.intake.api.case_actions import emit, record
from services.intake.api.cases import visible_case
from services.intake.api.deps import CurrentPrincipal
from services.intake.api.interactions import emit_for, visible_interaction
from services.intake.api.tasks import visible_task
from services.intake.domain import hierarchy
from services.intake.domain.access import CaseAction, Principal
from shared.contracts.events import AttachmentAdded
from shared.db import utcnow
from shared.problems import Problem, field_error, forbidden, invalid, not_found
from shared.runtime import runtime_of

router = APIRouter(tags=["attachments"])
ATTACHMENT_NOT_FOUND = ("Archivo adjunto no encontrado", "Attachment not found")
Owner = Literal["interaction", "case", "task"]
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file part

UPLOAD_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "PDF, PNG, JPEG, GIF or WEBP; 10 MB at most by default"}}}}}}}


class AttachmentOut(BaseModel):
    id: uuid.UUID
    owner_kind: Owner
    owner_id: uuid.UUID
    case_id: uuid.UUID | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: uuid.UUID | None
    uploaded_at: datetime
    download_url: str


def attachment_out(r: Any) -> AttachmentOut:
    return AttachmentOut(id=r.id, owner_kind=r.owner_kind, owner_id=r.owner_id, case_id=r.case_id,
                         filename=r.filename, content_type=r.content_type, size=r.size, sha256=r.sha256,
                         uploaded_by=r.uploaded_by, uploaded_at=r.uploaded_at, download_url=f"/attachments/{r.id}")


async def _owner(request: Request, p: Principal, kind: Owner, owner_id: uuid.UUID, write: bool) -> Any:
    """The case row governing access (None for an interaction), after checking the caller may
    read (or, ``write``, attach to) the owner; 404 for another tenant's."""
    if kind == "interaction":
        async with runtime_of(request).db.read() as conn:
            await visible_interaction(conn, p, owner_id)
        if write and not hierarchy.can_register_interaction(p):
            raise forbidden(("Su perfil no puede adjuntar archivos a atenciones.",
                             "Your profile may not attach files to interactions."))
        return None
    action = CaseAction.COMMENT if write else CaseAction.READ
    if kind == "task":
        return (await visible_task(request, p, owner_id, action))[1]
    return await visible_case(request, p, owner_id, action)


async def _read_upload(request: Request, max_bytes: int) -> tuple[bytes, str | None, str | None]:
    """(bytes, file name, declared type) of the ``file`` part, refusing oversize bodies early."""
    too_big = Problem(413, "file-too-large", ("Archivo demasiado grande", "File too large"),
                      (f"El máximo es {max_bytes / (1024 * 1024):g} MB.", f"The limit is {max_bytes / (1024 * 1024):g} MB."),
                      max_bytes=max_bytes)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + MULTIPART_OVERHEAD:
        raise too_big
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise Problem(415, "multipart-required", ("Tipo de contenido no soportado", "Unsupported media type"),
                      ("Envíe el archivo como multipart/form-data en el campo «file».",
                       "Send the file as multipart/form-data in the field «file»."))
    form = await request.form(max_files=1, max_fields=5)
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise invalid(field_error("file", ("Adjunte el archivo en el campo «file».",
                                               "Attach the file in the field «file»."), "missing"))
        data = await part.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise too_big
        return data, part.filename, part.content_type
    finally:
        await form.close()


async def _upload(request: Request, p: Principal, kind: Owner, owner_id: uuid.UUID) -> JSONResponse:
    case = await _owner(request, p, kind, owner_id, write=True)
    rt = runtime_of(request)
    max_bytes = rt.settings.attachment_max_bytes
    data, name, declared = await _read_upload(request, max_bytes)
    try:
        content_type = hierarchy.check_upload(data, declared, max_bytes)
    except hierarchy.Refused as exc:
        raise invalid({**field_error("file", exc.message, exc.code), **exc.extra}) from None
    now = utcnow()
    row = {"id": uuid.uuid4(), "tenant": p.tenant, "owner_kind": kind, "owner_id": owner_id,
           "case_id": case.id if case is not None else None, "filename": hierarchy.safe_filename(name, content_type),
           "content_type": content_type, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
           "content": data, "uploaded_by": p.user_id, "uploaded_at": now, "is_signed_letter": False}
    event = AttachmentAdded(attachment_id=row["id"], owner_kind=kind, owner_id=owner_id, case_id=row["case_id"],
                            filename=row["filename"], content_type=content_type, size=row["size"],
                            sha256=row["sha256"], by=p.user_id, at=now)
    async with rt.db.transaction() as tx:
        await tx.conn.execute(insert(attachments), row)
        if case is not None:
            await record(tx, case, p, "attachment_added", {
                "attachment_id": str(row["id"]), "owner_kind": kind, "owner_id": str(owner_id),
                "filename": row["filename"], "content_type": content_type, "size": row["size"],
                "sha256": row["sha256"]})
            await emit(tx, case, "attachment.added.v1", event)
        else:
            await emit_for(tx, p.tenant, owner_id, "attachment.added.v1", event)
    out = attachment_out(_Row(row))
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers={"Location": out.download_url})


class _Row:
    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


async def _list(request: Request, p: Principal, kind: Owner, owner_id: uuid.UUID) -> list[AttachmentOut]:
    await _owner(request, p, kind, owner_id, write=False)
    cols = [c for c in attachments.c if c.name != "content"]
    async with runtime_of(request).db.read() as conn:
        rows = (await conn.execute(select(*cols).where(
            attachments.c.tenant == p.tenant, attachments.c.owner_kind == kind, attachments.c.owner_id == owner_id)
            .order_by(attachments.c.uploaded_at, attachments.c.id))).all()
    return [attachment_out(r) for r in rows]


_UPLOAD = {"status_code": 201, "response_model": AttachmentOut, "openapi_extra": UPLOAD_DOC,
           "responses": {413: {"description": "Too large"}, 422: {"description": "Not a PDF or an image"}}}


@router.post("/interactions/{interaction_id}/attachments", **_UPLOAD)
async def upload_to_interaction(interaction_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R2.2: letters, e-mail copies… backing the interaction."""
    return await _upload(request, p, "interaction", interaction_id)


@router.post("/cases/{case_id}/attachments", **_UPLOAD)
async def upload_to_case(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> JSONResponse:
    """R0.1, R2.3: documents of the case."""
    return await _upload(request, p, "case", case_id)


@router.post("/tasks/{task_id}/attachments", **_UPLOAD)
async def upload_to_task(task_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> JSONResponse:
    return await _upload(request, p, "task", task_id)


@router.get("/interactions/{interaction_id}/attachments", response_model=list[AttachmentOut])
async def interaction_attachments(interaction_id: uuid.UUID, request: Request,
                                  p: CurrentPrincipal) -> list[AttachmentOut]:
    return await _list(request, p, "interaction", interaction_id)


@router.get("/cases/{case_id}/attachments", response_model=list[AttachmentOut])
async def case_attachments(case_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> list[AttachmentOut]:
    """The case's own attachments (its tasks' are listed under each task)."""
    return await _list(request, p, "case", case_id)


@router.get("/tasks/{task_id}/attachments", response_model=list[AttachmentOut])
async def task_attachments(task_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> list[AttachmentOut]:
    return await _list(request, p, "task", task_id)


@router.get("/attachments/{attachment_id}", response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "image/*": {}}, "description": "The file"},
                       404: {"description": "No such attachment, or not visible to the caller"}})
async def download(attachment_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> Response:
    """The file itself, for whoever may see its case or interaction."""
    async with runtime_of(request).db.read() as conn:
        row = (await conn.execute(select(attachments).where(attachments.c.id == attachment_id))).first()
    if row is None or row.tenant != p.tenant:
        raise not_found(ATTACHMENT_NOT_FOUND)
    try:
        await _owner(request, p, row.owner_kind, row.owner_id, write=False)
    except Problem as exc:
        if exc.status == 404:
            raise not_found(ATTACHMENT_NOT_FOUND) from None
        raise
    ascii_name = row.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(content=bytes(row.content), media_type=row.content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "ETag": f'"{row.sha256}"'})
