"""Who is told what, and how it reads. Plain Python: no I/O.

On a new case with its deadline (R4.3): the contact gets a confirmation with the number and the
date by which they will be answered; the responsible gets the assignment with the deadline
(R4.7: notifications go to the responsible)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class PlannedEmail:
    """One e-mail to send for an event: who, which template, in which language, with what."""

    role: str
    address: str
    template: str
    language: str
    context: dict[str, Any]
    case_id: str | None = None


def deadline_emails(case: Any, due_date: date, business_days: int) -> list[PlannedEmail]:
    """R4.3: confirmation to the contact; R4.7: the assignment to the responsible."""
    lang = case.language
    ctx = {"number": case.number, "subject": case.subject, "type_name": case.type_name,
           "description": case.description, "contact_name": case.contact_name, "contact_email": case.contact_email,
           "contact_phone": case.contact_phone, "created_at": format_instant(case.created_at, lang, case.timezone),
           "due_date": format_date(due_date, lang), "business_days": business_days}
    out = [PlannedEmail("contact", case.contact_email, "case_received", lang, ctx, str(case.case_id))]
    if case.responsible_email.lower() != case.contact_email.lower():
        out.append(PlannedEmail("responsible", case.responsible_email, "case_assigned", lang, ctx, str(case.case_id)))
    return out


def invitation_email(email: str, name: str, language: str, tenant_name: str, setup_url: str,
                     expires_at: datetime, timezone: str = "America/Santiago") -> PlannedEmail:
    """R4.1: the one-time link to set a password (never the password itself)."""
    return PlannedEmail("user", email, "user_invited", language, {
        "name": name, "email": email, "tenant_name": tenant_name, "setup_url": setup_url,
        "expires_at": format_instant(expires_at, language, timezone)})


def format_date(d: date, language: str) -> str:
    return d.strftime("%d-%m-%Y") if language == "es" else d.isoformat()


def format_instant(t: datetime, language: str, timezone: str = "America/Santiago") -> str:
    local = t.astimezone(ZoneInfo(timezone))
    return local.strftime("%d-%m-%Y %H:%M") if language == "es" else local.strftime("%Y-%m-%d %H:%M")


class Renderer:
    """Renders ``<template>.<language>.subject.j2`` and ``.body.j2``; Spanish when unsure."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        self.env = Environment(loader=FileSystemLoader(folder), undefined=StrictUndefined,
                               autoescape=False, keep_trailing_newline=True)

    def render(self, template: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
        lang = language if language in ("es", "en") else "es"
        subject = self.env.get_template(f"{template}.{lang}.subject.j2").render(context).strip()
        body = self.env.get_template(f"{template}.{lang}.body.j2").render(context)
        return subject, body

    def render_sms(self, template: str, language: str, context: dict[str, Any]) -> str:
        """``<template>.<language>.sms.j2`` as one line (an SMS has no subject)."""
        lang = language if language in ("es", "en") else "es"
        return " ".join(self.env.get_template(f"{template}.{lang}.sms.j2").render(context).split())


def case_context(case: Any) -> dict[str, Any]:
    """What every case e-mail may mention, from notifier's copy of the case."""
    lang = case.language
    return {"number": case.number, "subject": case.subject, "type_name": case.type_name,
            "description": case.description, "contact_name": case.contact_name, "contact_email": case.contact_email,
            "contact_phone": case.contact_phone, "created_at": format_instant(case.created_at, lang, case.timezone)}


def finished_emails(case: Any, outcome: str, comment: str | None) -> list[PlannedEmail]:
    """R4.6: finishing (with or without success) mails the contact and the responsible."""
    ctx = {**case_context(case), "outcome": outcome, "comment": comment or ""}
    out = [PlannedEmail("contact", case.contact_email, "case_finished", case.language, ctx, str(case.case_id))]
    if case.responsible_email.lower() != case.contact_email.lower():
        # Its own text, written for the responsible (case_finished_responsible.*), under the same template id.
        out.append(PlannedEmail("responsible", case.responsible_email, "case_finished", case.language,
                                {**ctx, "for_responsible": True},
                                str(case.case_id)))
    return out


def requested_mails(case: Any, to: list[str], cc: list[str], subject: str, body: str, include_details: bool,
                    sender_name: str | None) -> list[PlannedEmail]:
    """R4.6 "Enviar mail": one delivery per address (to and cc), the case's details on request."""
    ctx = {**case_context(case), "mail_subject": subject, "mail_body": body, "include_details": include_details,
           "sender_name": sender_name or "Atiende"}
    seen: set[str] = set()
    out = []
    for role, addresses in (("to", to), ("cc", cc)):
        for a in addresses:
            if a.lower() not in seen:
                seen.add(a.lower())
                out.append(PlannedEmail(role, a, "case_mail", case.language, ctx, str(case.case_id)))
    return out


# -- time (issue 10): escalations and SLA warnings, to the users workflow chose -----------------------
KIND_LABELS: dict[str, dict[str, str]] = {
    "es": {"case_overdue": "Solicitud vencida", "first_response_overdue": "Primera respuesta vencida",
           "commitment_passed": "Compromiso interno vencido", "task_overdue": "Tarea vencida",
           "priority_raised": "Prioridad elevada", "triage_supervisor": "Derivada a supervisión"},
    "en": {"case_overdue": "Request overdue", "first_response_overdue": "First response overdue",
           "commitment_passed": "Internal commitment passed", "task_overdue": "Task overdue",
           "priority_raised": "Priority raised", "triage_supervisor": "Referred to a supervisor"},
}
REASON_LABELS: dict[str, dict[str, str]] = {
    "es": {"responsible": "usted es el responsable de la solicitud",
           "manager": "usted es jefatura del responsable",
           "area_head": "usted es jefe del área de la solicitud",
           "subscriber": "usted está suscrito a las escalaciones de este tipo de solicitud",
           "supervisor": "usted es supervisor"},
    "en": {"responsible": "you are responsible for the request",
           "manager": "you manage the request's responsible",
           "area_head": "you head the request's area",
           "subscriber": "you subscribed to escalations of this request type",
           "supervisor": "you are a supervisor"},
}
CLOCK_LABELS: dict[str, dict[str, str]] = {
    "es": {"first_response": "primera respuesta", "resolution": "resolución", "hold": "plazo de espera",
           "internal_commitment": "compromiso interno"},
    "en": {"first_response": "first response", "resolution": "resolution", "hold": "hold period",
           "internal_commitment": "internal commitment"},
}


def _lang(language: str) -> str:
    return language if language in ("es", "en") else "es"


def _label(table: dict[str, dict[str, str]], code: str | None, language: str) -> str:
    if code is None:
        return ""
    return table[_lang(language)].get(code, code)  # an unknown code still reads (as itself)


def format_duration(seconds: int, language: str) -> str:
    """Lateness in days/hours/minutes: ``1 d 2 h 5 min`` (``min`` also in English)."""
    minutes = max(0, seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


@dataclass(frozen=True)
class Addressee:
    """A recipient workflow chose, resolved from the user directory: who, why, in which language."""

    user_id: str
    reason: str
    email: str
    name: str
    language: str


def _people_context(case: Any, who: Addressee) -> dict[str, Any]:
    lang = _lang(who.language)
    return {**case_context(case), "created_at": format_instant(case.created_at, lang, case.timezone),
            "name": who.name, "reason": who.reason, "reason_label": _label(REASON_LABELS, who.reason, lang),
            "user_id": who.user_id}


def _once_per_address(people: list[Addressee]) -> list[Addressee]:
    """Deliveries are keyed (event, channel, address): the same address twice is one e-mail."""
    seen: set[str] = set()
    out = []
    for p in people:
        if p.email.lower() not in seen:
            seen.add(p.email.lower())
            out.append(p)
    return out


def escalation_emails(case: Any, people: list[Addressee], *, kind: str, level: int, due_at: datetime | None,
                      overdue_seconds: int | None, clock: str | None, urgent: bool,
                      message: str | None) -> list[PlannedEmail]:
    """Issue 10: a case escalated (``case.escalated.v1``): each e-mail recipient, in their language."""
    out = []
    for who in _once_per_address(people):
        lang = _lang(who.language)
        ctx = {**_people_context(case, who), "kind": kind, "kind_label": _label(KIND_LABELS, kind, lang),
               "level": level, "urgent": urgent, "message": message or "",
               "clock_label": _label(CLOCK_LABELS, clock, lang),
               "due_at": format_instant(due_at, lang, case.timezone) if due_at else "",
               "overdue": format_duration(overdue_seconds, lang) if overdue_seconds is not None else ""}
        out.append(PlannedEmail(who.reason, who.email, "case_escalated", lang, ctx, str(case.case_id)))
    return out


def sla_warning_emails(case: Any, people: list[Addressee], *, clock: str, percent: int,
                       due_at: datetime) -> list[PlannedEmail]:
    """Issue 10: ``percent`` of a clock's time is used (``case.sla_warning.v1``)."""
    out = []
    for who in _once_per_address(people):
        lang = _lang(who.language)
        ctx = {**_people_context(case, who), "clock": clock, "clock_label": _label(CLOCK_LABELS, clock, lang),
               "percent": percent, "due_at": format_instant(due_at, lang, case.timezone)}
        out.append(PlannedEmail(who.reason, who.email, "case_sla_warning", lang, ctx, str(case.case_id)))
    return out
