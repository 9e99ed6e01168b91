"""The inbox as a download (R4.10): its columns, their headers and how each case becomes a row.
Plain Python, no I/O.

Why the export lives in intake, next to the inbox: "the same rows in the same order as
``GET /inbox``" is only guaranteed by running the very same query (``adapters/inbox_queries.py``
through ``service_layer/inbox.py``); reporting's read model has neither the search document nor
party sharing (R2.7), so an export built there could list other rows or hide fewer.

One row per case, the columns below (Spanish headers by default, English for ``en``):
number, type, category, area, channel, association, contact (name, e-mail, phone), responsible,
status, priority, the dates (entry, due, first response, finished) in the tenant's time zone
without a zone (spreadsheet datetimes in XLSX), how much the case is overdue (wall-clock, e.g.
"3 d 4 h", and the same in hours so a spreadsheet can sort it; empty when not overdue, R4.8) and
the states of the first-response and resolution SLA clocks as workflow last told intake
(``case_clocks``). Catalog entries (type, category, area, channel) show their name in the
caller's language when the catalog has one, the code otherwise; status, priority, association and
SLA states use the labels below."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.intake.domain.lifecycle import PRIORITY_LABELS, STATUS_LABELS

Text = tuple[str, str]  # (Spanish, English)
Kind = Literal["text", "datetime", "number"]


@dataclass(frozen=True)
class ExportColumn:
    key: str
    header: Text
    kind: Kind = "text"


COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("number", ("N° solicitud", "Case number")),
    ExportColumn("type", ("Tipo", "Type")),
    ExportColumn("category", ("Categoría", "Category")),
    ExportColumn("area", ("Área", "Area")),
    ExportColumn("channel", ("Canal", "Channel")),
    ExportColumn("association", ("Asociación", "Association")),
    ExportColumn("contact", ("Contacto", "Contact")),
    ExportColumn("contact_email", ("Correo contacto", "Contact e-mail")),
    ExportColumn("contact_phone", ("Teléfono contacto", "Contact phone")),
    ExportColumn("responsible", ("Responsable", "Responsible")),
    ExportColumn("status", ("Estado", "Status")),
    ExportColumn("priority", ("Prioridad", "Priority")),
    ExportColumn("created_at", ("Fecha de ingreso", "Entry date"), "datetime"),
    ExportColumn("due_at", ("Fecha de vencimiento", "Due date"), "datetime"),
    ExportColumn("answered_at", ("Primera respuesta", "First response"), "datetime"),
    ExportColumn("finished_at", ("Fecha de término", "Finished"), "datetime"),
    ExportColumn("overdue", ("Atraso", "Overdue by")),
    ExportColumn("overdue_hours", ("Atraso (horas)", "Overdue (hours)"), "number"),
    ExportColumn("sla_first_response", ("Estado SLA primera respuesta", "First-response SLA state")),
    ExportColumn("sla_resolution", ("Estado SLA resolución", "Resolution SLA state")),
)

SLA_LABELS: dict[str, Text] = {
    "running": ("en curso", "running"), "paused": ("en pausa", "paused"), "warned": ("con aviso", "warned"),
    "met": ("cumplido", "met"), "breached": ("incumplido", "breached"), "stopped": ("detenido", "stopped")}
ASSOCIATION_LABELS: dict[str, Text] = {
    "owner": ("propietario", "owner"), "lessee": ("arrendatario", "lessee"), "property": ("propiedad", "property"),
    "non_owner": ("no propietario", "non-owner"), "party": ("cliente", "customer"), "asset": ("activo", "asset")}
_STATUS: dict[str, Text] = {s.value: t for s, t in STATUS_LABELS.items()}
_PRIORITY: dict[str, Text] = {p.value: t for p, t in PRIORITY_LABELS.items()}
FILE_NAME: Text = ("bandeja", "inbox")
SHEET_NAME: Text = ("Bandeja", "Inbox")
DATETIME_FORMAT = "%Y-%m-%d %H:%M"  # CSV; XLSX cells are datetimes with the same display format
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def headers(lang: str) -> list[str]:
    i = _index(lang)
    return [c.header[i] for c in COLUMNS]


def default_separator(lang: str) -> str:
    """Spanish locales write decimals with a comma, so spreadsheets there split CSV on ';'."""
    return ";" if lang == "es" else ","


def file_name(lang: str, at: datetime, tz: ZoneInfo, ext: str) -> str:
    return f"{FILE_NAME[_index(lang)]}-{at.astimezone(tz).strftime('%Y%m%d-%H%M')}.{ext}"


@dataclass(frozen=True)
class CatalogLabels:
    """The tenant's catalog names (es, en) by code; categories by path ("a/b/c")."""

    types: dict[str, Text] = field(default_factory=dict)
    areas: dict[str, Text] = field(default_factory=dict)
    channels: dict[str, Text] = field(default_factory=dict)
    categories: dict[str, Text] = field(default_factory=dict)


def _index(lang: str) -> int:
    return 1 if lang == "en" else 0


def _label(labels: dict[str, Text], code: str | None, i: int) -> str:
    if code is None:
        return ""
    named = labels.get(code)
    return named[i] if named else code


def category_label(path: list[str] | None, labels: dict[str, Text], i: int) -> str:
    """Each level's name, "Atención / Consultas / General" (a level's code when it has no name)."""
    names = []
    for n, code in enumerate(path or []):
        named = labels.get("/".join((path or [])[: n + 1]))
        names.append(named[i] if named else code)
    return " / ".join(names)


def overdue_text(seconds: int) -> str:
    """Wall-clock lateness, coarse as a person says it: "3 d 4 h", "5 h 20 min", "12 min"."""
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def clock_states(clocks: list[dict[str, Any]] | None) -> dict[str, str]:
    """kind → state of each clock (the latest cycle when a reopened case has several)."""
    out: dict[str, tuple[int, str]] = {}
    for c in clocks or []:
        kind, cycle = c.get("kind"), int(c.get("cycle") or 1)
        if isinstance(kind, str) and (kind not in out or cycle >= out[kind][0]):
            out[kind] = (cycle, str(c.get("state")))
    return {k: v[1] for k, v in out.items()}


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """The tenant's wall-clock time, without a zone (what a spreadsheet cell holds)."""
    return value.astimezone(tz).replace(tzinfo=None) if value is not None else None


def export_row(r: Any, labels: CatalogLabels, clocks: list[dict[str, Any]] | None, lang: str, tz: ZoneInfo,
               now: datetime) -> list[Any]:
    """One inbox row (``inbox_queries.ITEM_COLUMNS``) as the export's values, in ``COLUMNS``' order:
    texts, naive local datetimes or None, and the overdue hours as a number."""
    i = _index(lang)
    late = None
    if r.overdue_since is not None:  # R4.8: one meaning of overdue, the inbox's and the case's
        since = r.due_at or r.overdue_since
        late = max(0, int((now - since).total_seconds()))
    states = clock_states(clocks)
    first, resolution = states.get("first_response"), states.get("resolution")
    return [
        r.number,
        _label(labels.types, r.type_code, i),
        category_label(r.category_path, labels.categories, i),
        _label(labels.areas, r.area, i),
        _label(labels.channels, r.channel, i),
        _label(ASSOCIATION_LABELS, r.association, i),
        r.contact_name,
        r.contact_email,
        r.contact_phone or "",
        r.responsible_email,
        _label(_STATUS, r.status, i),
        _label(_PRIORITY, r.priority, i),
        _local(r.created_at, tz),
        _local(r.due_at, tz),
        _local(r.answered_at, tz),
        _local(r.finished_at, tz),
        overdue_text(late) if late is not None else "",
        round(late / 3600, 1) if late is not None else None,
        _label(SLA_LABELS, first, i) if first else "",
        _label(SLA_LABELS, resolution, i) if resolution else "",
    ]
