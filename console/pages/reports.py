"""Reports with charts (issue 13, reporting's api_reports.py) and the inbox's export jobs (R4.10,
intake's inbox_export.py), on one page, ``/console/reports``.

- The reports (SLA compliance, backlog aging, response times, volumes) are for admins and
  supervisors (R4.4; the API refuses the rest). A from/to form picks the period (``to`` exclusive,
  as the API takes it); each report shows its chart and its numbers as a table. The chart is the
  API's SVG, relayed by this console (``/console/reports/charts/<name>.svg``): an ``<img>`` cannot
  send the bearer header, and the token stays in its HttpOnly cookie instead of a URL.
- Everyone who reads the inbox may export it: the button starts a job (POST /inbox/exports); its
  progress (rows done / total) is polled every second by htmx into an aria-live region, and the
  finished file is relayed the same way as the charts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from console import i18n
from console.api_client import ApiError
from console.pages.admin import call
from console.web import CurrentVisit, Visit, api_of, form_text, is_htmx, page

router = APIRouter()
READERS = {"admin", "supervisor"}
REPORTS = ("sla-compliance", "backlog-aging", "response-times", "volumes")
FORMATS = ("csv", "xlsx")
RUNNING = ("queued", "running")

TEXTS: dict[str, tuple[str, str]] = {
    "nav": ("Reportes", "Reports"),
    "title": ("Reportes y exportación", "Reports and export"),
    "period": ("Período", "Period"),
    "from": ("Desde (inclusive)", "From (inclusive)"),
    "to": ("Hasta (exclusive)", "To (exclusive)"),
    "period.hint": ("Vacío: sin límite. Las fechas son las del cliente.", "Empty: no bound. Dates are the tenant's."),
    "show": ("Ver reportes", "Show reports"),
    "not_reader": ("Los reportes son para administradores y supervisores.",
                   "Reports are for administrators and supervisors."),
    "chart": ("Gráfico: {name}. Los números están en la tabla que sigue.",
              "Chart: {name}. The numbers are in the table below."),
    "report.sla-compliance": ("Cumplimiento de SLA", "SLA compliance"),
    "report.backlog-aging": ("Antigüedad de las pendientes", "Backlog aging"),
    "report.response-times": ("Tiempos de respuesta (horas hábiles)", "Response times (business hours)"),
    "report.volumes": ("Volumen de ingreso", "Volumes"),
    "group": ("Grupo", "Group"),
    "total": ("Total", "Total"),
    "met": ("Cumplidas", "Met"),
    "breached": ("Vencidas", "Breached"),
    "open": ("Abiertas", "Open"),
    "met_pct": ("% cumplido", "% met"),
    "count": ("Cantidad", "Count"),
    "median": ("Mediana", "Median"),
    "p90": ("Percentil 90", "90th percentile"),
    "bucket": ("{b} días", "{b} days"),
    "as_of": ("Al {date}", "As of {date}"),
    "export": ("Exportar la bandeja", "Export the inbox"),
    "export.intro": ("Todas las solicitudes que usted ve en la bandeja, en un archivo.",
                     "Every case you see in the inbox, in one file."),
    "export.format": ("Formato", "Format"),
    "export.start": ("Exportar la bandeja", "Export the inbox"),
    "export.progress": ("Exportación", "Export"),
    "export.rows": ("{done} de {total} filas", "{done} of {total} rows"),
    "export.rows.unknown": ("{done} filas", "{done} rows"),
    "export.state.queued": ("En cola…", "Queued…"),
    "export.state.running": ("Exportando…", "Exporting…"),
    "export.state.done": ("Lista.", "Done."),
    "export.state.failed": ("La exportación falló.", "The export failed."),
    "export.download": ("Descargar {file}", "Download {file}"),
}
i18n.TEXTS.update({f"rp.{key}": pair for key, pair in TEXTS.items()})


def _is_reader(v: Visit) -> bool:
    return bool(set(v.me.get("roles") or []) & READERS)


def _period(request: Request) -> dict[str, str]:
    """The API's ``from``/``to`` from this page's query string (empty ones left out)."""
    return {k: request.query_params[k] for k in ("from", "to") if request.query_params.get(k)}


async def _reports(request: Request, v: Visit, period: dict[str, str]) -> tuple[dict[str, Any], ApiError | None]:
    try:
        found = await asyncio.gather(*(call(request, v, "GET", f"/reports/{name}", params=period)
                                       for name in REPORTS))
    except ApiError as e:  # a bad period: the form shows the message beside from/to
        return {}, e
    return dict(zip(REPORTS, found, strict=True)), None


@router.get("/reports")
async def reports(request: Request, v: CurrentVisit) -> Response:
    period = _period(request)
    found, error = await _reports(request, v, period) if _is_reader(v) else ({}, None)
    job = None
    if job_id := request.query_params.get("job"):  # without JavaScript: reload to see the progress
        job = await call(request, v, "GET", f"/inbox/exports/{quote(job_id)}")
    return page(request, v, "reports/reports.html", reader=_is_reader(v), period=period, found=found, error=error,
                names=REPORTS, formats=FORMATS, job=job, running=RUNNING,
                chart_query="&".join(f"{k}={quote(val)}" for k, val in period.items()),
                status_code=422 if error else 200)


async def _relay(request: Request, v: Visit, path: str, params: dict[str, str] | None = None,
                 keep: tuple[str, ...] = ("content-type",)) -> Response:
    """The API's answer at ``path`` streamed on to the browser, with the user's token added."""
    api = api_of(request)
    sent = api.http.build_request("GET", path, params=params, headers=api._headers(v.session))
    r = await api.http.send(sent, stream=True)
    if r.status_code >= 400:
        await r.aread()
        await r.aclose()
        api._check(r)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in r.aiter_bytes():
            yield chunk

    headers = {k: r.headers[k] for k in (*keep, "cache-control") if k in r.headers}
    return StreamingResponse(body(), status_code=r.status_code, headers=headers, background=BackgroundTask(r.aclose))


@router.get("/reports/charts/{name}.svg")
async def chart(request: Request, v: CurrentVisit, name: str) -> Response:
    if name not in REPORTS:
        raise ApiError(404, "Not found")
    return await _relay(request, v, f"/reports/{name}.svg", _period(request))


def _job_view(request: Request, v: Visit, job: dict[str, Any]) -> Response:
    return page(request, v, "reports/_job.html", job=job, running=RUNNING)


@router.post("/reports/exports")
async def start_export(request: Request, v: CurrentVisit) -> Response:
    form = await request.form()
    body = {"format": form_text(form, "format") or "csv"}
    try:
        job = await call(request, v, "POST", "/inbox/exports", body=body)
    except ApiError as e:
        return page(request, v, "reports/_job.html", job=None, error=e, running=RUNNING)
    if is_htmx(request):
        return _job_view(request, v, job)
    return Response(status_code=303, headers={"Location": f"{request.url.path.rsplit('/', 1)[0]}?job={job['id']}"})


@router.get("/reports/exports/{job_id}")
async def export_progress(request: Request, v: CurrentVisit, job_id: str) -> Response:
    return _job_view(request, v, await call(request, v, "GET", f"/inbox/exports/{quote(job_id)}"))


@router.get("/reports/exports/{job_id}/download")
async def download(request: Request, v: CurrentVisit, job_id: str) -> Response:
    return await _relay(request, v, f"/inbox/exports/{quote(job_id)}/download",
                        keep=("content-type", "content-disposition"))

