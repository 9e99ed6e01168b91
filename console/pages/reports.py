"""Reports with charts (issue 13, reporting's api_reports.py) and the inbox's export jobs (R4.10,
intake's inbox_export.py), on one page, ``/console/reports``.

- The reports (SLA compliance, backlog aging, response times, volumes) are for admins and
  supervisors (R4.4; the API refuses the rest). A form picks the API's ``from``/``to`` (the
  tenant's days, ``to`` exclusive, as the API takes them), the grouping ``by`` and the length of a
  period (day, ISO week, month); each report gets the grouping if it accepts it (else it keeps its
  default) and shows its chart, drawn for the same selection, and its numbers as a table. The
  chart is the API's SVG, relayed by this console (``/console/reports/charts/<name>.svg``): an
  ``<img>`` cannot send the bearer header, and the token stays in its HttpOnly cookie instead of
  a URL.
- Everyone who reads the inbox may export it: the button starts a job (POST /inbox/exports); its
  progress (rows done / total) is polled every second by htmx into an aria-live region, and the
  finished file is relayed the same way as the charts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

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
# services/reporting/api_reports.py: the groupings each report accepts (its default first), and
# the reports that take a period length.
GROUPINGS = {"sla-compliance": ("type", "area", "responsible", "period"), "backlog-aging": ("type", "area"),
             "response-times": ("type", "area", "period"), "volumes": ("channel", "type", "area")}
BY = ("type", "area", "channel", "responsible", "period")
PERIODS = ("month", "week", "day")
WITH_PERIOD = ("sla-compliance", "response-times", "volumes")
FORMATS = ("csv", "xlsx")
RUNNING = ("queued", "running")

TEXTS: dict[str, tuple[str, str]] = {
    "nav": ("Reportes", "Reports"),
    "title": ("Reportes y exportación", "Reports and export"),
    "period": ("Período", "Period"),
    "from": ("Desde (inclusive)", "From (inclusive)"),
    "to": ("Hasta (exclusive)", "To (exclusive)"),
    "period.hint": ("Vacío: sin límite. Las fechas son las del cliente ({zone}).",
                    "Empty: no bound. Dates are the tenant's ({zone})."),
    "by": ("Agrupar por", "Group by"),
    "by.default": ("(lo propio de cada reporte)", "(each report's own)"),
    "by.type": ("Tipo de solicitud", "Case type"),
    "by.area": ("Área", "Area"),
    "by.channel": ("Canal", "Channel"),
    "by.responsible": ("Responsable", "Responsible"),
    "by.period": ("Período", "Period"),
    "by.hint": ("Cada reporte usa la agrupación si la admite.", "Each report uses the grouping where it takes it."),
    "length": ("Largo del período", "Period length"),
    "length.month": ("Mes", "Month"),
    "length.week": ("Semana (ISO)", "Week (ISO)"),
    "length.day": ("Día", "Day"),
    "grouped": ("Agrupado por: {by}", "Grouped by: {by}"),
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
    """This page's selection from its query string (empty ones left out): ``from``, ``to``, ``by``
    and ``period``, as the API names them."""
    return {k: request.query_params[k] for k in ("from", "to", "by", "period") if request.query_params.get(k)}


def _params(name: str, chosen: dict[str, str]) -> dict[str, str]:
    """What report ``name`` is asked with: the period, and the grouping and length if it takes them."""
    out: dict[str, str] = {k: chosen[k] for k in ("from", "to") if k in chosen}
    if chosen.get("by") in GROUPINGS[name]:
        out["by"] = chosen["by"]
    if "period" in chosen and name in WITH_PERIOD:
        out["period"] = chosen["period"]
    return out


async def _reports(request: Request, v: Visit, chosen: dict[str, str]) -> tuple[dict[str, Any], ApiError | None]:
    try:
        found = await asyncio.gather(*(call(request, v, "GET", f"/reports/{name}", params=_params(name, chosen))
                                       for name in REPORTS))
    except ApiError as e:  # a bad selection: the form shows the message beside its field
        return {}, e
    return dict(zip(REPORTS, found, strict=True)), None


async def _tenant_zone(request: Request, v: Visit) -> str:
    return str((await call(request, v, "GET", "/tenant"))["timezone"])


@router.get("/reports")
async def reports(request: Request, v: CurrentVisit) -> Response:
    chosen = _period(request)
    (found, error), zone = await asyncio.gather(
        _reports(request, v, chosen) if _is_reader(v) else _nothing(), _tenant_zone(request, v))
    job = None
    if job_id := request.query_params.get("job"):  # without JavaScript: reload to see the progress
        job = await call(request, v, "GET", f"/inbox/exports/{quote(job_id)}")
    return page(request, v, "reports/reports.html", reader=_is_reader(v), period=chosen, found=found, error=error,
                names=REPORTS, formats=FORMATS, job=job, running=RUNNING, zone=zone, by_options=BY,
                periods=PERIODS, grouping={name: _params(name, chosen).get("by", GROUPINGS[name][0])
                                           for name in REPORTS},
                chart_query={name: urlencode(_params(name, chosen)) for name in REPORTS},
                status_code=422 if error else 200)


async def _nothing() -> tuple[dict[str, Any], ApiError | None]:
    return {}, None


async def _relay(request: Request, v: Visit, path: str, params: dict[str, str] | None = None,
                 keep: tuple[str, ...] = ("content-type",)) -> Response:
    """The API's answer at ``path`` streamed on to the browser, with the user's token added."""
    r = await api_of(request).open_stream(v.session, path, params)  # a refusal raises, already closed

    async def body() -> AsyncIterator[bytes]:
        async for chunk in r.aiter_bytes():
            yield chunk

    headers = {k: r.headers[k] for k in (*keep, "cache-control") if k in r.headers}
    return StreamingResponse(body(), status_code=r.status_code, headers=headers, background=BackgroundTask(r.aclose))


@router.get("/reports/charts/{name}.svg")
async def chart(request: Request, v: CurrentVisit, name: str) -> Response:
    if name not in REPORTS:
        raise ApiError(404, "Not found")
    return await _relay(request, v, f"/reports/{name}.svg", _params(name, _period(request)))


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

