"""Attachments on interactions, cases and tasks: PDF and images (PNG, JPEG, GIF, WEBP).

- Upload: ``multipart/form-data`` with one ``file`` part (415 otherwise). The whole file is
  checked (``hierarchy.check_upload``): its type is what the bytes are (puremagic), and a
  declared ``Content-Type`` or a name extension that disagrees is refused; so is markup or
  script anywhere in it (a PNG signature followed by ``<html><script>``) and data after the
  format's end — each a 422 naming ``file`` with its ``code``. At most
  ``ATIENDE_ATTACHMENT_MAX_BYTES`` (10 MB by default): 413 ``file-too-large`` above, refused
  from ``Content-Length`` before the body is read. The file name loses paths, control and
  bidirectional characters; the SHA-256 is stored and returned.
- Who: on a case or a task, whoever may comment on the case (R4.4: its responsible, admins,
  supervisors, and executors on others' cases, as for comments); on an interaction, whoever may
  register interactions and see it. Download and lists: whoever may see the case or the
  interaction; another tenant's (or a hidden party's) attachment is 404.
- Storage: the bytes are in intake's ``attachments`` table for now (fine at these sizes and
  volumes; an object store can replace it behind the same endpoints).

Routes only: the use cases are in ``service_layer/attachments.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from services.intake.api.deps import CurrentPrincipal
from services.intake.service_layer import attachments
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.refusals import Refused, field_error, invalid
from shared.runtime import runtime_of

router = APIRouter(tags=["attachments"])
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


async def _read_upload(request: Request, max_bytes: int) -> tuple[bytes, str | None, str | None]:
    """(bytes, file name, declared type) of the ``file`` part, refusing oversize bodies early."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + MULTIPART_OVERHEAD:
        raise attachments.too_large(max_bytes)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise Refused(415, "multipart-required", ("Tipo de contenido no soportado", "Unsupported media type"),
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
            raise attachments.too_large(max_bytes)
        return data, part.filename, part.content_type
    finally:
        await form.close()


async def _upload(request: Request, p: Any, kind: Owner, owner_id: uuid.UUID) -> JSONResponse:
    rt = runtime_of(request)
    max_bytes = rt.settings.attachment_max_bytes
    data, name, declared = await _read_upload(request, max_bytes)
    row = await attachments.upload(rt.db, p, kind, owner_id, data=data, filename=name, declared_type=declared,
                                   max_bytes=max_bytes)
    out = attachment_out(row)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers={"Location": out.download_url})


_UPLOAD: dict[str, Any] = {"status_code": 201, "response_model": AttachmentOut, "openapi_extra": UPLOAD_DOC,
                           "responses": problem_responses(401, 403, 404, 413, 415, 422)}
_LIST: dict[str, Any] = {"response_model": Page[AttachmentOut], "responses": problem_responses(401, 403, 404, 422)}


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
    """R2.4: documents of the task (photos of the damage, the technician's report…)."""
    return await _upload(request, p, "task", task_id)


@router.get("/interactions/{interaction_id}/attachments", **_LIST)
async def interaction_attachments(interaction_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                                  page: PageParams) -> Page[AttachmentOut]:
    return await attachments.list_(runtime_of(request).db, p, "interaction", interaction_id, page, attachment_out)


@router.get("/cases/{case_id}/attachments", **_LIST)
async def case_attachments(case_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                           page: PageParams) -> Page[AttachmentOut]:
    """The case's own attachments (its tasks' are listed under each task)."""
    return await attachments.list_(runtime_of(request).db, p, "case", case_id, page, attachment_out)


@router.get("/tasks/{task_id}/attachments", **_LIST)
async def task_attachments(task_id: uuid.UUID, request: Request, p: CurrentPrincipal,
                           page: PageParams) -> Page[AttachmentOut]:
    return await attachments.list_(runtime_of(request).db, p, "task", task_id, page, attachment_out)


@router.get("/attachments/{attachment_id}", response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "image/*": {}}, "description": "The file"},
                       **problem_responses(401, 404, 422)})
async def download(attachment_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> Response:
    """The file itself, for whoever may see its case or interaction (else 404)."""
    row = await attachments.download(runtime_of(request).db, p, attachment_id)
    ascii_name = row.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(content=bytes(row.content), media_type=row.content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "ETag": f'"{row.sha256}"'})
