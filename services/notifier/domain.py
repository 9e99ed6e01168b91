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
