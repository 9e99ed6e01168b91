"""Report shapes. Plain Python: no I/O."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel


class CountRow(BaseModel):
    key: str
    label: str
    count: int


class CaseCounts(BaseModel):
    tenant: str
    total: int
    by_status: list[CountRow]
    by_type: list[CountRow]


STATUS_LABELS = {"es": {"new": "Nueva", "in_execution": "En ejecución", "finished_success": "Finalizada con éxito",
                        "finished_failure": "Finalizada sin éxito"},
                 "en": {"new": "New", "in_execution": "In execution", "finished_success": "Finished (success)",
                        "finished_failure": "Finished (no success)"}}


def status_label(status: str, language: str) -> str:
    return STATUS_LABELS.get(language, STATUS_LABELS["es"]).get(status, status)


# -- R1.5 commission report: successful retentions per executive per month ------------------------
# A retention is filed under its month in the tenant's time zone (``tenant_zones``, from its
# cases' case.created.v1); this zone is the default for a tenant reporting has no case of yet.
REPORT_TIMEZONE = "America/Santiago"
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

OFFER_LABELS = {"es": {"withdraw_savings": "Retiro de ahorros", "loan": "Préstamo",
                       "direct_payment": "Cambio a pago directo",
                       "premium_pause": "Pausa de prima por motivos económicos"},
                "en": {"withdraw_savings": "Savings withdrawal", "loan": "Loan",
                       "direct_payment": "Switch to direct payment",
                       "premium_pause": "Premium pause (economic reasons)"}}

COMMISSION_COLUMNS = {
    "es": ["Ejecutivo", "ID ejecutivo", "Período", "N° solicitud", "Póliza", "Fecha de retención",
           "Ofertas aceptadas"],
    "en": ["Executive", "Executive ID", "Period", "Case number", "Policy", "Retained at", "Offers accepted"],
}
NO_EXECUTIVE = {"es": "(sin ejecutivo)", "en": "(no executive)"}
COMMISSION_SHEET = {"es": "Comisiones", "en": "Commissions"}
COMMISSION_FILE = {"es": "comisiones-retencion", "en": "retention-commissions"}


def period_of(at: datetime, zone: str = REPORT_TIMEZONE) -> str:
    """The month ("YYYY-MM") an instant falls in, in ``zone``."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def valid_period(text: str) -> bool:
    return _PERIOD.match(text) is not None


def local_time(at: datetime, zone: str = REPORT_TIMEZONE) -> datetime:
    """``at`` on the report's wall clock, without zone (what a spreadsheet shows)."""
    return at.astimezone(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0)


def offer_label(kind: str, language: str) -> str:
    return OFFER_LABELS.get(language, OFFER_LABELS["es"]).get(kind, kind)


class OfferOut(BaseModel):
    kind: str
    accepted: bool | None
    offered_at: datetime


class RetainedCase(BaseModel):
    case_id: uuid.UUID
    number: str
    policy_code: str | None
    retained_at: datetime
    offers_accepted: list[str]
    offers: list[OfferOut]  # every offer recorded on the request, accepted or not


class ExecutiveRetentions(BaseModel):
    executive_id: uuid.UUID | None
    executive_name: str | None
    retentions: int
    cases: list[RetainedCase]


class RetentionCommissions(BaseModel):
    tenant: str
    period: str
    time_zone: str
    total: int
    executives: list[ExecutiveRetentions]


def commission_report(tenant: str, period: str, retained: list[Any],
                      offers: dict[uuid.UUID, list[OfferOut]], zone: str = REPORT_TIMEZONE) -> RetentionCommissions:
    """Group the period's retentions (rows with the ``retentions`` columns) by executive, sorted by
    the executive's name; each executive's cases by retention time."""
    groups: dict[uuid.UUID | None, list[Any]] = {}
    for r in retained:
        groups.setdefault(r.executive_id, []).append(r)
    executives = []
    for exec_id, rows in groups.items():
        rows.sort(key=lambda r: (r.retained_at, r.number))
        executives.append(ExecutiveRetentions(
            executive_id=exec_id, executive_name=rows[-1].executive_name, retentions=len(rows),
            cases=[RetainedCase(case_id=r.case_id, number=r.number, policy_code=r.policy_code,
                                retained_at=r.retained_at, offers_accepted=list(r.offers_accepted),
                                offers=offers.get(r.case_id, [])) for r in rows]))
    executives.sort(key=lambda e: (e.executive_name is None, (e.executive_name or "").casefold(),
                                   str(e.executive_id)))
    return RetentionCommissions(tenant=tenant, period=period, time_zone=zone,
                                total=len(retained), executives=executives)


def commission_rows(report: RetentionCommissions, language: str) -> list[list[Any]]:
    """One row per retained case (columns: ``COMMISSION_COLUMNS``), for the CSV and XLSX downloads."""
    rows = []
    for e in report.executives:
        for c in e.cases:
            rows.append([e.executive_name or NO_EXECUTIVE.get(language, NO_EXECUTIVE["es"]),
                         str(e.executive_id) if e.executive_id else "", report.period, c.number,
                         c.policy_code or "", local_time(c.retained_at, report.time_zone),
                         "; ".join(offer_label(k, language) for k in c.offers_accepted)])
    return rows
