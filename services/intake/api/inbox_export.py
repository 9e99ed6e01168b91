"""The inbox as a download (R4.10): ``GET /inbox/export`` (direct, streamed) and export jobs for
large exports (``POST /inbox/exports``, ``GET /inbox/exports``, ``GET /inbox/exports/{id}``,
``GET /inbox/exports/{id}/download``).

The export lives in intake, next to the inbox, because "same rows, same order" is only
guaranteed by running the very same query (``service_layer/inbox`` + ``adapters/inbox_queries``);
reporting's read model has neither the search document nor party sharing (R2.7).

Parameters: exactly ``GET /inbox``'s filters, search and sort (not its page: ``limit``, ``cursor``
and ``count`` are unknown parameters here, 422), plus ``format`` (``csv``, the default, or
``xlsx``) and ``separator`` (CSV only: ``comma`` or ``semicolon``; by default ``semicolon`` when
the caller's language is Spanish — ``Accept-Language``, es-CL by default — and ``comma`` for
English). CSV is UTF-8 with a BOM; XLSX is written by xlsxwriter in constant-memory mode. Headers
and labels in Spanish, English with ``Accept-Language: en``; dates in the tenant's time zone.
Who may export: everyone who may read the inbox (R4.4), with R2.7's restricted parties left out
exactly as the inbox leaves them out; API keys may use the direct export, jobs need a user (403).
Every download is a line of the audit trail (``GET /audit``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.deps import CurrentPrincipal
from services.intake.api.inbox_params import RESPONSIBLE_DESCRIPTION, InboxFilters, inbox_request
from services.intake.service_layer import exports
from shared.openapi import problem_responses
from shared.paging import Page, PageParams
from shared.problems import language
from shared.runtime import runtime_of

router = APIRouter(tags=["inbox"])

SEPARATORS = {"comma": ",", "semicolon": ";"}
EXAMPLE: dict[str, Any] = {"status": ["new", "in_execution"], "type": ["documentacion"], "sort": "-created", "format": "xlsx"}


class ExportParams(InboxFilters):
    """The inbox's filters, search and sort (``GET /inbox`` without its page) and the file's shape."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": EXAMPLE})
    responsible: list[str] = Field(default_factory=list, description=RESPONSIBLE_DESCRIPTION)
    format: Literal["csv", "xlsx"] = Field(default="csv", description="csv (UTF-8 with BOM) or xlsx")
    separator: Literal["comma", "semicolon"] | None = Field(default=None, description=(
        "CSV only. Default: semicolon when the caller's language is Spanish, comma for English"))


class ExportJobOut(BaseModel):
    id: uuid.UUID
    state: Literal["queued", "running", "done", "failed"]
    rows_done: int
    rows_total: int | None = Field(description="The inbox's total at the start (exact once done)")
    rows_total_exact: bool = Field(description="false: rows_total is the inbox's estimate (over its cap)")
    format: str
    separator: str | None
    file_name: str
    filters: dict[str, Any]
    size_bytes: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime
    download_url: str | None = Field(description="When done: GET it for the file")


def _spec(params: ExportParams, request: Request) -> exports.ExportSpec:
    lang = language(request)
    filters = params.model_dump(mode="json", exclude_defaults=True, exclude={"format", "separator"})
    return exports.ExportSpec(
        request=inbox_request(params, params.responsible, limit=exports.PAGE_ROWS, cursor=None, count=False),
        format=params.format, separator=SEPARATORS[params.separator] if params.separator else None,
        language=lang, filters=filters)


def _disposition(file_name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{file_name}"', "Cache-Control": "private, no-store"}


FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}},
          "description": "The file: one row per case, in the inbox's order"}}


@router.get("/inbox/export", response_class=StreamingResponse,
            responses={**FILE_RESPONSES, **problem_responses(401, 422)})
async def export_inbox(params: Annotated[ExportParams, Query()], request: Request,
                       p: CurrentPrincipal) -> StreamingResponse:
    """R4.10: the inbox's rows (same filters, search, sort and visibility as ``GET /inbox``, every
    page) as CSV or XLSX, streamed. For large exports, ``POST /inbox/exports`` runs it as a job."""
    rt = runtime_of(request)
    prep, body = await exports.download(rt.db, rt.extras["catalog"], p, _spec(params, request), where="query")
    return StreamingResponse(body, media_type=prep.media_type, headers=_disposition(prep.file_name))


def _job_out(row: Any) -> ExportJobOut:
    return ExportJobOut(
        id=row.id, state=row.state, rows_done=row.rows_done, rows_total=row.rows_total,
        rows_total_exact=row.rows_total_exact, format=row.format, separator=row.separator, file_name=row.file_name,
        filters=row.filters, size_bytes=row.size_bytes, error=row.error, created_at=row.created_at,
        finished_at=row.finished_at, expires_at=row.expires_at,
        download_url=f"/inbox/exports/{row.id}/download" if row.state == "done" else None)


@router.post("/inbox/exports", status_code=202, response_model=ExportJobOut,
             responses=problem_responses(401, 403, 413, 422))
async def start_export(body: ExportParams, request: Request, p: CurrentPrincipal) -> ExportJobOut:
    """R4.10: export the inbox in the background (same body as ``GET /inbox/export``'s parameters);
    follow ``GET /inbox/exports/{id}`` (rows done / total) and download when done. A user's only."""
    rt = runtime_of(request)
    row = await exports.start_job(rt.db, rt.extras["catalog"], rt.extras["exports"], p, _spec(body, request),
                                  where="body")
    return _job_out(row)


@router.get("/inbox/exports", response_model=Page[ExportJobOut], responses=problem_responses(401, 403, 422))
async def list_exports(request: Request, p: CurrentPrincipal, page: PageParams) -> Page[ExportJobOut]:
    """The caller's export jobs, newest first (they expire after 7 days)."""
    rows = await exports.jobs(runtime_of(request).db, p, page.after("inbox-exports", datetime, uuid.UUID),
                              page.limit)
    return Page[ExportJobOut].of(rows, page, "inbox-exports", key=lambda r: (r.created_at, r.id), item=_job_out)


@router.get("/inbox/exports/{job_id}", response_model=ExportJobOut, responses=problem_responses(401, 403, 404, 422))
async def get_export(job_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> ExportJobOut:
    """One of the caller's export jobs: state and progress (anyone else's: 404)."""
    return _job_out(await exports.job(runtime_of(request).db, p, job_id))


@router.get("/inbox/exports/{job_id}/download", response_class=StreamingResponse,
            responses={**FILE_RESPONSES, **problem_responses(401, 403, 404, 409, 422)})
async def download_export(job_id: uuid.UUID, request: Request, p: CurrentPrincipal) -> StreamingResponse:
    """A finished job's file (409 while it is not done; anyone else's: 404)."""
    row, body = await exports.job_download(runtime_of(request).db, p, job_id)
    return StreamingResponse(body, media_type=exports.media_type(row.format), headers=_disposition(row.file_name))
