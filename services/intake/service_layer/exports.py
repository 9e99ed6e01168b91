"""The inbox as a download (R4.10): direct exports and export jobs.

Why here, in intake, next to the inbox: "the same rows, in the same order" as ``GET /inbox`` is
only guaranteed by running the very same query — ``service_layer/inbox.prepare`` validates the
same parameters and builds the same ``InboxQuery`` (tenant, R2.7 party sharing, search, filters,
sort), and ``inbox.pages`` walks its keyset pages (``PAGE_ROWS`` rows each, never everything at
once). Reporting's read model has neither the search document nor party sharing.

- Direct (``download``): the file is streamed while the pages are read (CSV) or written to a
  temporary file and then streamed (XLSX: ``adapters/export_writers``).
- Jobs (``start_job``, for large exports): a background asyncio task in this process writes the
  file into ``export_files`` in chunks of at most 1 MiB, so any replica serves the download;
  ``rows_done`` and the heartbeat move every page. ``rows_total`` is the inbox's total at the start
  (exact up to its cap, then the planner's estimate, as ``GET /inbox`` says it) and becomes the
  exact count when the job is done. Keep it simple: a job whose heartbeat stopped for
  ``STALE_AFTER`` (its process died) is marked failed when its owner reads the jobs; jobs and their
  files expire after ``JOB_TTL`` and are deleted when a list of jobs is read.
- Only a job's owner (same tenant and user) sees or downloads it: anyone else gets 404. Jobs need a
  user (an API key: 403); a direct export is open to every caller who may read the inbox (R4.4),
  API keys included (integrations).
- Every download — direct, or of a job — is one line of the audit trail (``inbox.exported``, with
  format, filters and row count), written when the download ends (also if the client left
  half-way: then ``complete`` is false)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio

from services.intake.adapters import export_tables as xt
from services.intake.adapters import export_writers as writers
from services.intake.adapters import inbox_queries as iq
from services.intake.adapters import repository as repo
from services.intake.domain import inbox_export as rules
from services.intake.domain.access import Principal
from services.intake.service_layer import audit
from services.intake.service_layer import inbox as inbox_usecases
from shared.db import Database, utcnow
from shared.refusals import FieldErrors, Refused, Text, conflict, forbidden, not_found

log = logging.getLogger("atiende.intake.exports")

PAGE_ROWS = 1_000
JOB_TTL = timedelta(days=7)
STALE_AFTER = timedelta(minutes=5)
JOB_NOT_FOUND: Text = ("No existe esa exportación.", "No such export.")
JOBS_NEED_A_USER: Text = ("Las exportaciones en segundo plano son de un usuario; una clave de API descarga la "
                          "exportación directa (GET /inbox/export).",
                          "Background exports belong to a user; an API key downloads the direct export "
                          "(GET /inbox/export).")
STALE_ERROR = "interrupted: the process running it stopped"


@dataclass(frozen=True)
class ExportSpec:
    """What to export: the inbox's request (its ``limit`` is ignored), the file's shape, and the
    parameters as the caller gave them (for the audit line and the job)."""

    request: inbox_usecases.InboxRequest
    format: str  # csv | xlsx
    separator: str | None  # CSV only; None: the language's default (``prepare`` resolves it)
    language: str  # es | en: headers and labels
    filters: dict[str, Any]


@dataclass
class Prepared:
    """An export whose parameters were accepted; ``rows`` counts what the stream has produced."""

    spec: ExportSpec
    who: Principal
    query: iq.InboxQuery
    timezone: ZoneInfo
    labels: rules.CatalogLabels
    file_name: str
    media_type: str
    rows: int = 0


def media_type(fmt: str) -> str:
    return writers.XLSX_MEDIA_TYPE if fmt == "xlsx" else writers.CSV_MEDIA_TYPE


async def prepare(db: Database, catalog: repo.CatalogCache, who: Principal, spec: ExportSpec,
                  where: str = "query") -> Prepared:
    """Refuses bad parameters exactly as ``GET /inbox`` does, and a separator for XLSX: every bad
    field in one 422 (``where``: "query" or "body", where the caller put them)."""
    errors = FieldErrors()
    if spec.format == "xlsx" and spec.separator is not None:
        errors.add("separator", ("El separador sólo se usa en CSV.", "The separator applies to CSV only."),
                   "csv_only", where=where)
    try:
        query = await inbox_usecases.prepare(catalog, who, spec.request)
    except Refused as exc:
        if exc.status != 422:
            raise
        errors.extend([{**e, "pointer": e["pointer"].replace("#/query/", f"#/{where}/", 1)} for e in exc.errors])
    errors.raise_if_any()
    query.limit = PAGE_ROWS
    tenant = await catalog.tenant(who.tenant)
    assert tenant is not None
    async with db.read() as conn:
        labels = await xt.catalog_labels(conn, who.tenant)
    tz = ZoneInfo(tenant.timezone)
    ext = "xlsx" if spec.format == "xlsx" else "csv"
    separator = spec.separator or rules.default_separator(spec.language)
    return Prepared(replace(spec, separator=separator if ext == "csv" else None), who, query, tz, labels,
                    rules.file_name(spec.language, query.now, tz, ext), media_type(ext))


def _export_rows(prep: Prepared, page: list[Any], clocks: dict[uuid.UUID, Any]) -> list[list[Any]]:
    return [rules.export_row(r, prep.labels, clocks.get(r.id), prep.spec.language, prep.timezone, prep.query.now)
            for r in page]


async def _rows(db: Database, prep: Prepared,
                on_page: Callable[[int], Awaitable[None]] | None) -> AsyncIterator[list[list[Any]]]:
    """The inbox's pages as export rows (with each page's SLA clocks), counted in ``prep.rows``."""
    q = prep.query
    async for page in inbox_usecases.pages(db, q, prep.who):
        async with db.read() as conn:
            clocks = await xt.clocks_of_cases(conn, q.tenant, [r.id for r in page])
        # In a worker thread: a page's formatting (tens of ms) does not hold up other requests.
        rows = await asyncio.to_thread(_export_rows, prep, page, clocks)
        prep.rows += len(rows)
        if on_page is not None:
            await on_page(prep.rows)
        yield rows


def stream(db: Database, prep: Prepared,
           on_page: Callable[[int], Awaitable[None]] | None = None) -> AsyncIterator[bytes]:
    """The file's bytes, in the spec's format."""
    lang = prep.spec.language
    header = rules.headers(lang)
    rows = _rows(db, prep, on_page)
    if prep.spec.format == "xlsx":
        return writers.xlsx_stream(header, rows, rules.SHEET_NAME[1 if lang == "en" else 0])
    return writers.csv_stream(header, rows, prep.spec.separator or ",")


def _audit_details(fmt: str, separator: str | None, filters: dict[str, Any], rows: int, complete: bool,
                   job_id: uuid.UUID | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"format": fmt, "filters": filters, "rows": rows, "complete": complete}
    if fmt == "csv":
        out["separator"] = separator
    if job_id is not None:
        out["job_id"] = str(job_id)
    return out


async def _audited(db: Database, who: Principal, body: AsyncIterator[bytes],
                   details: Callable[[bool], dict[str, Any]]) -> AsyncIterator[bytes]:
    """``body``, then the download's audit line — also when the client went away (the line is
    written shielded from the cancellation that ends the response)."""
    complete = False
    try:
        async for data in body:
            yield data
        complete = True
    finally:
        with anyio.CancelScope(shield=True):
            await audit.record(db, who, audit.INBOX_EXPORTED, details(complete))


async def download(db: Database, catalog: repo.CatalogCache, who: Principal, spec: ExportSpec,
                   where: str = "query") -> tuple[Prepared, AsyncIterator[bytes]]:
    """A direct export: the prepared export (file name, media type) and its audited bytes."""
    prep = await prepare(db, catalog, who, spec, where)
    return prep, _audited(db, who, stream(db, prep), lambda complete: _audit_details(
        prep.spec.format, prep.spec.separator, spec.filters, prep.rows, complete))


# -- jobs ------------------------------------------------------------------------------------------
class ExportRunner:
    """This process's running export jobs; ``close`` (at shutdown) cancels them, and the jobs
    are then failed by the stale check."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, job: Awaitable[None], job_id: uuid.UUID) -> None:
        async def run() -> None:
            await job

        task = asyncio.create_task(run(), name=f"intake:export:{job_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def wait(self) -> None:
        """Until every job started so far has ended (tests, benchmarks)."""
        while self.tasks:
            await asyncio.wait(list(self.tasks))

    async def close(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)


def _require_user(who: Principal) -> uuid.UUID:
    if who.user_id is None:
        raise forbidden(JOBS_NEED_A_USER)
    return who.user_id


async def start_job(db: Database, catalog: repo.CatalogCache, runner: ExportRunner, who: Principal,
                    spec: ExportSpec, where: str = "body") -> Any:
    """Queue a job (parameters refused exactly as the inbox refuses them) and start it in this
    process; its row as stored."""
    user_id = _require_user(who)
    prep = await prepare(db, catalog, who, spec, where)
    spec = prep.spec
    total, exact = await inbox_usecases.total(db, prep.query, who)
    now = utcnow()
    job_id = uuid.uuid4()
    async with db.transaction() as tx:
        await xt.insert_job(tx.conn, {
            "id": job_id, "tenant": who.tenant, "user_id": user_id, "format": spec.format,
            "separator": spec.separator, "language": spec.language,
            "filters": spec.filters, "state": "queued", "rows_done": 0, "rows_total": total,
            "rows_total_exact": exact, "size_bytes": None, "file_name": prep.file_name, "error": None,
            "created_at": now, "heartbeat_at": now, "finished_at": None, "expires_at": now + JOB_TTL})
        row = await xt.job_of(tx.conn, who.tenant, user_id, job_id)
    runner.start(_run_job(db, prep, job_id), job_id)
    return row


async def _run_job(db: Database, prep: Prepared, job_id: uuid.UUID) -> None:
    async def progress(rows: int) -> None:
        async with db.transaction() as tx:
            await xt.update_job(tx.conn, job_id, rows_done=rows, heartbeat_at=utcnow())

    async def save(seq: int, data: bytes) -> None:
        async with db.transaction() as tx:
            await xt.add_chunk(tx.conn, job_id, seq, data)
            await xt.update_job(tx.conn, job_id, heartbeat_at=utcnow())

    try:
        async with db.transaction() as tx:
            await xt.update_job(tx.conn, job_id, state="running", heartbeat_at=utcnow())
        seq, size, pending = 0, 0, bytearray()
        async for data in stream(db, prep, progress):
            pending += data
            size += len(data)
            while len(pending) >= writers.CHUNK:
                await save(seq, bytes(pending[: writers.CHUNK]))
                del pending[: writers.CHUNK]
                seq += 1
        if pending or seq == 0:
            await save(seq, bytes(pending))
        async with db.transaction() as tx:
            await xt.update_job(tx.conn, job_id, state="done", rows_done=prep.rows, rows_total=prep.rows,
                                rows_total_exact=True, size_bytes=size, finished_at=utcnow(), heartbeat_at=utcnow())
    except BaseException as exc:  # noqa: BLE001 - every end but success fails the job (cancellation too)
        if not isinstance(exc, asyncio.CancelledError):
            log.exception("export job %s failed", job_id)
        with anyio.CancelScope(shield=True):
            async with db.transaction() as tx:
                await xt.delete_chunks(tx.conn, job_id)
                await xt.update_job(tx.conn, job_id, state="failed", finished_at=utcnow(),
                                    error=(STALE_ERROR if isinstance(exc, asyncio.CancelledError)
                                           else f"{type(exc).__name__}")[:500])
        raise


async def _tidy(db: Database, who: Principal, user_id: uuid.UUID) -> None:
    """The simple upkeep done when jobs are read: stale jobs fail, expired ones go."""
    now = utcnow()
    async with db.transaction() as tx:
        await xt.fail_stale(tx.conn, who.tenant, user_id, now - STALE_AFTER, now, STALE_ERROR)
        await xt.delete_expired(tx.conn, now)


async def job(db: Database, who: Principal, job_id: uuid.UUID) -> Any:
    """The caller's own job (404 for anyone else's)."""
    user_id = _require_user(who)
    await _tidy(db, who, user_id)
    async with db.read() as conn:
        row = await xt.job_of(conn, who.tenant, user_id, job_id)
    if row is None:
        raise not_found(JOB_NOT_FOUND)
    return row


async def jobs(db: Database, who: Principal, after: list[Any] | None, limit: int) -> list[Any]:
    """The caller's jobs, newest first; ``limit + 1`` rows at most (``Page.of`` cuts)."""
    user_id = _require_user(who)
    await _tidy(db, who, user_id)
    async with db.read() as conn:
        return await xt.job_page(conn, who.tenant, user_id, after, limit + 1)


NOT_READY: Text = ("La exportación aún no está lista", "The export is not ready yet")


async def job_download(db: Database, who: Principal, job_id: uuid.UUID) -> tuple[Any, AsyncIterator[bytes]]:
    """A finished job's file, chunk by chunk (each chunk its own short read), audited."""
    row = await job(db, who, job_id)
    if row.state != "done":
        raise conflict("export-not-ready", NOT_READY,
                       (f"Estado: {row.state}; avance {row.rows_done} de {row.rows_total or '?'} filas.",
                        f"State: {row.state}; {row.rows_done} of {row.rows_total or '?'} rows done."),
                       state=row.state)
    async with db.read() as conn:
        chunks = await xt.chunk_count(conn, job_id)

    async def body() -> AsyncIterator[bytes]:
        for seq in range(chunks):
            async with db.read() as conn:
                data = await xt.chunk(conn, job_id, seq)
            if data is None:  # expired and deleted while being downloaded
                return
            yield data

    return row, _audited(db, who, body(), lambda complete: _audit_details(
        row.format, row.separator, row.filters, row.rows_done, complete, job_id))
