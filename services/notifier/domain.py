"""Who is told what, and how it reads. Plain Python: no I/O.

On a new case with its deadline (R4.3): the contact gets a confirmation with the number and the
date by which they will be answered; the responsible gets the assignment with the deadline
(R4.7: notifications go to the responsible)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

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


OVERRIDE = "_tenant_template"  # a delivery's context: the tenant's own text (adapters/rules_tables.py)
LANGUAGES = ("es", "en")


def language_of(language: str) -> str:
    """The shipped languages: ``es`` (es-CL) and ``en``; Spanish when unsure."""
    lang = language.lower()[:2]
    return lang if lang in LANGUAGES else "es"


class Renderer:
    """Renders ``<template>.<language>.subject.j2`` and ``.body.j2`` (``.sms.j2``); Spanish when
    unsure. A context carrying a tenant's own text (``OVERRIDE``) renders that instead. Jinja2's
    sandbox, strict about undefined names, for shipped and tenant texts alike."""

    CACHE_MAX = 512

    def __init__(self, folder: Path = TEMPLATES) -> None:
        self.folder = folder
        # auto_reload off: the shipped templates do not change while the process runs, and checking
        # their files' mtimes cost a stat() per template on every e-mail.
        self.env = SandboxedEnvironment(loader=FileSystemLoader(folder), undefined=StrictUndefined,
                                        autoescape=False, keep_trailing_newline=True, auto_reload=False)
        self._compiled: dict[str, Template] = {}

    def compile(self, source: str) -> Template:
        """A tenant's text, compiled once (TemplateSyntaxError when it does not parse)."""
        got = self._compiled.get(source)
        if got is None:
            if len(self._compiled) >= self.CACHE_MAX:
                self._compiled.pop(next(iter(self._compiled)))
            got = self._compiled[source] = self.env.from_string(source)
        return got

    def render(self, template: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
        own = context.get(OVERRIDE)
        if own:
            ctx = {k: v for k, v in context.items() if k != OVERRIDE}
            return self.compile(own["subject"] or "").render(ctx).strip(), self.compile(own["body"]).render(ctx)
        lang = language_of(language)
        subject = self.env.get_template(f"{template}.{lang}.subject.j2").render(context).strip()
        body = self.env.get_template(f"{template}.{lang}.body.j2").render(context)
        return subject, body

    def render_sms(self, template: str, language: str, context: dict[str, Any]) -> str:
        """``<template>.<language>.sms.j2`` as one line (an SMS has no subject)."""
        own = context.get(OVERRIDE)
        if own:
            text = self.compile(own["body"]).render({k: v for k, v in context.items() if k != OVERRIDE})
        else:
            text = self.env.get_template(f"{template}.{language_of(language)}.sms.j2").render(context)
        return " ".join(text.split())

    def shipped(self, template: str, channel: str, language: str) -> tuple[str | None, str]:
        """The shipped source: (subject, body) of an e-mail, (None, text) of an SMS."""
        lang = language_of(language)
        if channel == "sms":
            return None, (self.folder / f"{template}.{lang}.sms.j2").read_text(encoding="utf-8")
        return ((self.folder / f"{template}.{lang}.subject.j2").read_text(encoding="utf-8"),
                (self.folder / f"{template}.{lang}.body.j2").read_text(encoding="utf-8"))

    def channels(self, template: str) -> list[str]:
        """The channels a template is shipped for."""
        return [c for c, suffix in (("email", "body"), ("sms", "sms"))
                if (self.folder / f"{template}.es.{suffix}.j2").exists()]


def html_of(text: str, language: str = "es") -> str:
    """An e-mail's HTML part from its text: escaped, a paragraph per blank-line-separated block,
    line breaks kept."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    paragraphs = "\n".join("<p>" + "<br>\n".join(html.escape(line) for line in b.strip("\n").split("\n")) + "</p>"
                           for b in blocks)
    return (f'<!DOCTYPE html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8"></head>\n'
            f'<body>\n{paragraphs}\n</body></html>\n')


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


ATTACHMENTS = "_attachments"  # context key of the files to attach (not a template variable)


def requested_mails(case: Any, to: list[str], cc: list[str], subject: str, body: str, include_details: bool,
                    sender_name: str | None, attachments: list[dict[str, Any]] | None = None) -> list[PlannedEmail]:
    """R4.6 "Enviar mail": one delivery per address (to and cc), the case's details on request, the
    chosen files attached (kept in the delivery's context, so a resend carries them too)."""
    ctx = {**case_context(case), "mail_subject": subject, "mail_body": body, "include_details": include_details,
           "sender_name": sender_name or "Atiende"}
    if attachments:
        ctx[ATTACHMENTS] = attachments
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
           "priority_raised": "Prioridad elevada", "triage_supervisor": "Derivada a supervisión",
           "churn_alert": "Alerta de fuga"},
    "en": {"case_overdue": "Request overdue", "first_response_overdue": "First response overdue",
           "commitment_passed": "Internal commitment passed", "task_overdue": "Task overdue",
           "priority_raised": "Priority raised", "triage_supervisor": "Referred to a supervisor",
           "churn_alert": "Churn alert"},
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


# -- tenant templates (issue 11 item 5): what each template may use, a sample to preview ------------
@dataclass(frozen=True)
class SampleCase:
    """A case as notifier's copy holds it, for previews and checks."""

    case_id: str = "00000000-0000-4000-8000-000000000001"
    number: str = "2026-000123"
    language: str = "es"
    timezone: str = "America/Santiago"
    type_name: str = "Consulta general"
    subject: str = "Copia de escritura"
    description: str = "El propietario solicita copia de la escritura de su departamento."
    contact_name: str = "Héctor Contreras"
    contact_email: str = "hector@example.cl"
    contact_phone: str | None = "+56912345678"
    responsible_email: str = "ejecutiva@inmobiliaria-demo.atiende.cl"
    created_at: datetime = datetime(2026, 12, 3, 12, 30, tzinfo=ZoneInfo("UTC"))


def _sample_task(language: str) -> dict[str, Any]:
    # The keys handlers.plan_task_email gives a task_assigned e-mail (R2.4).
    return {"name": "Ejecutivo Demo", "role": "responsible", "responsible_name": "Ejecutivo Demo",
            "title": "Inspeccionar filtración", "description": "Revisar el baño del departamento 402.",
            "due_date": format_date(date(2026, 12, 10), language), "case_number": SampleCase.number,
            "case_subject": SampleCase.subject, "area": "Mantención", "by_name": "Supervisora Demo",
            "task_id": "00000000-0000-4000-8000-000000000002"}


def sample_contexts(template: str, language: str) -> list[dict[str, Any]]:
    """The contexts the planners build for ``template`` (each variant: the contact's and the
    responsible's, say), from a sample case; [] for a template no planner uses."""
    lang = language_of(language)
    case = SampleCase(language=lang)
    who = Addressee("00000000-0000-4000-8000-000000000003", "responsible", case.responsible_email,
                    "Ejecutiva Demo", lang)
    due = datetime(2026, 12, 10, 18, 0, tzinfo=ZoneInfo("UTC"))
    if template in ("case_received", "case_assigned"):
        return [deadline_emails(case, date(2026, 12, 10), 5)[0].context]
    if template == "case_finished":
        return [m.context for m in finished_emails(case, "success", "Se envió la copia solicitada.")]
    if template == "case_mail":
        return [requested_mails(case, [case.contact_email], [], "Documentos pendientes",
                                "Le escribimos por los documentos pendientes.", True, "Ejecutiva Demo")[0].context]
    if template == "task_assigned":
        return [_sample_task(lang)]
    if template == "user_invited":
        return [invitation_email("nuevo@example.cl", "Usuario Nuevo", lang, "Inmobiliaria Demo",
                                 "https://atiende.example/password-setup?token=…", due).context]
    if template == "case_escalated":
        return [escalation_emails(case, [who], kind="case_overdue", level=1, due_at=due, overdue_seconds=93600,
                                  clock="resolution", urgent=True, message="Cliente llamó dos veces.")[0].context]
    if template == "case_sla_warning":
        return [sla_warning_emails(case, [who], clock="resolution", percent=80, due_at=due)[0].context]
    return []


TEMPLATES_IN_USE = ("case_received", "case_assigned", "case_finished", "case_mail", "task_assigned",
                    "user_invited", "case_escalated", "case_sla_warning")


def allowed_variables(template: str, env: SandboxedEnvironment | None = None) -> set[str]:
    """The names a tenant's text for ``template`` may use: every context key a planner gives it
    (in any variant) and Jinja's globals (``range``, ``namespace``…)."""
    names = {k for ctx in sample_contexts(template, "es") for k in ctx}
    return names | set((env.globals if env is not None else {}).keys())


@dataclass(frozen=True)
class TemplateProblem:
    part: str  # "subject" or "body"
    code: str  # "template_syntax", "unknown_variables", "template_error"
    message: str  # Jinja's own words
    line: int | None = None
    names: tuple[str, ...] = ()


def check_template(renderer: Renderer, template: str, parts: dict[str, str]) -> list[TemplateProblem]:
    """Refusals for a tenant's text (``parts``: subject and/or body): a syntax error with its
    line, names the planners never give, and errors rendering the sample contexts (a name that
    only some deliveries have, used without ``is defined``; a sandbox refusal)."""
    problems = []
    allowed = allowed_variables(template, renderer.env)
    for part, source in parts.items():
        try:
            ast = renderer.env.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(part, "template_syntax", exc.message or str(exc), exc.lineno))
            continue
        unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
        if unknown:
            problems.append(TemplateProblem(part, "unknown_variables", ", ".join(unknown), names=tuple(unknown)))
            continue
        for language in LANGUAGES:
            try:
                compiled = renderer.compile(source)
                for ctx in sample_contexts(template, language):
                    compiled.render(ctx)
            except Exception as exc:  # UndefinedError, SecurityError, TypeError…: the text cannot render
                problems.append(TemplateProblem(part, "template_error", str(exc), _error_line(exc)))
                break
    return problems


def _error_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:  # Jinja rewrites tracebacks: the template's frame carries its line
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
