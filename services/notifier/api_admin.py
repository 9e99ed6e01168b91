"""notifier's admin API (issue 11 items 4 and 5): a tenant's notification rules and templates.
Admins only (403 otherwise); every answer and change is the caller's tenant's.

- ``GET /notification-rules`` — the effective rules: the procedures' defaults
  (services/notifier/rules.py) with the tenant's own rows in their place (``source``).
- ``PUT /notification-rules/{event_type}/{recipient_role}`` ``{"channels": [...], "active": bool}``
  — the tenant's rule for that key; channels among those the default has for it (a planner
  makes nothing on another); an unknown event type or role is 422.
- ``GET /notification-templates`` — every template × channel × language (es = es-CL, en), the
  tenant's text or the shipped one.
- ``GET | PUT | DELETE /notification-templates/{template}/{channel}/{language}`` — one; PUT saves
  the tenant's text after checking it (a syntax error: 422 with its line; a name the planners
  never give: 422 naming it; a text that cannot render the sample case: 422); DELETE goes back
  to the shipped text.
- ``POST /notification-templates/{template}/{channel}/{language}/preview`` — renders a sample
  case with the draft in the body (or, without one, the current text); an SMS also answers its
  length, encoding and segment count."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select, update

from services.notifier import domain, rules
from services.notifier.adapters.rules_tables import notification_rules, notification_templates, rule_of
from shared.db import insert_ignoring_duplicates, utcnow
from shared.fields import SafeText
from shared.openapi import problem_responses
from shared.paging import Page, PageParams, PageQuery
from shared.refusals import FieldErrors, Text, field_error, invalid, not_found
from shared.runtime import runtime_of
from shared.sessions import Caller, CurrentCaller

router = APIRouter(tags=["notification rules and templates"])
renderer = domain.Renderer()

ADMIN_ONLY: Text = ("Sólo un administrador gestiona las reglas y plantillas de notificación.",
                    "Only an administrator manages notification rules and templates.")
TEMPLATE_NOT_FOUND: Text = ("Plantilla no encontrada", "Template not found")
UNKNOWN_EVENT: Text = ("Tipo de evento sin reglas de notificación.", "No notification rules for this event type.")
UNKNOWN_ROLE: Text = ("Este evento no tiene destinatarios con ese rol.", "This event has no recipients of that role.")
NO_SUCH_CHANNEL: Text = ("Ese rol no recibe este evento por el canal {channel}.",
                         "That role cannot get this event by {channel}.")
SUBJECT_REQUIRED: Text = ("Un correo necesita asunto.", "An e-mail needs a subject.")
SUBJECT_NOT_SMS: Text = ("Un SMS no tiene asunto.", "An SMS has no subject.")

ChannelName = Literal["email", "sms", "in_app"]


def _admin(who: Caller) -> None:
    who.require_any({"admin"}, ADMIN_ONLY)


# -- rules ----------------------------------------------------------------------------------------
class RuleOut(BaseModel):
    event_type: str
    recipient_role: str
    channels: list[str]
    active: bool
    source: Literal["default", "tenant"]
    version: int = Field(description="0 for a default; the tenant's row's version otherwise")
    procedure: str = Field(description="Where the default comes from (R4.3, R4.7…)")
    published: bool = Field(description="false: no service publishes this event yet (R1.1's churn alerts)")
    available_channels: list[str] = Field(description="The channels this rule may use")


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[ChannelName] = Field(max_length=3)
    active: bool = True


def _ordered(channels: Any) -> list[str]:
    return [c for c in rules.CHANNELS if c in set(channels)]


def _rule_out(rule: rules.Rule, own: bool, version: int = 0) -> RuleOut:
    default = rules.DEFAULTS.get((rule.event_type, rule.recipient_role))
    return RuleOut(event_type=rule.event_type, recipient_role=rule.recipient_role, channels=_ordered(rule.channels),
                   active=rule.active, source="tenant" if own else "default", version=version if own else 0,
                   procedure=rule.procedure, published=rule.published,
                   available_channels=_ordered(default.channels if default else rule.channels))


async def _rule_rows(conn: Any, tenant: str) -> dict[tuple[str, str], Any]:
    r = notification_rules.c
    return {(row.event_type, row.recipient_role): row
            for row in await conn.execute(select(notification_rules).where(r.tenant == tenant))}


@router.get("/notification-rules", response_model=Page[RuleOut], responses=problem_responses(401, 403, 422))
async def list_rules(request: Request, who: CurrentCaller, page: PageParams) -> Page[RuleOut]:
    """Which event reaches which recipients by which channels, for the caller's tenant."""
    _admin(who)
    async with runtime_of(request).db.read() as conn:
        rows = await _rule_rows(conn, who.tenant)
    own = {k: rule_of(row) for k, row in rows.items()}
    items = [(i, _rule_out(rule, mine, rows[(rule.event_type, rule.recipient_role)].version if mine else 0))
             for i, (rule, mine) in enumerate(rules.all_effective(own))]
    return Page[RuleOut].of(*_page_of(items, page, "notification-rules"), key=lambda r: (r[0],), item=lambda r: r[1])


def _page_of(items: list[tuple[int, Any]], page: PageQuery, kind: str) -> tuple[list[tuple[int, Any]], PageQuery, str]:
    """A short fixed list, paged like every list (the cursor: the last row's position)."""
    after = page.after(kind, int)
    start = after[0] + 1 if after else 0
    return items[start: start + page.limit + 1], page, kind


@router.put("/notification-rules/{event_type}/{recipient_role}", response_model=RuleOut,
            responses=problem_responses(401, 403, 422))
async def put_rule(event_type: str, recipient_role: str, change: RuleIn, request: Request,
                   who: CurrentCaller) -> RuleOut:
    """Set the tenant's rule for (event type, recipient role); it wins over the default."""
    _admin(who)
    if event_type not in rules.EVENT_TYPES:
        raise invalid(field_error("event_type", UNKNOWN_EVENT, "unknown_event_type", where="path",
                                  known=list(rules.EVENT_TYPES)))
    default = rules.DEFAULTS.get((event_type, recipient_role))
    if default is None:
        raise invalid(field_error("recipient_role", UNKNOWN_ROLE, "unknown_recipient_role", where="path",
                                  known=rules.roles_of(event_type)))
    errors = FieldErrors()
    for i, c in enumerate(change.channels):
        if c not in default.channels:
            errors.add(f"channels.{i}", (NO_SUCH_CHANNEL[0].format(channel=c), NO_SUCH_CHANNEL[1].format(channel=c)),
                       "channel_not_available", available=_ordered(default.channels))
    errors.raise_if_any()
    channels = _ordered(change.channels)
    r = notification_rules.c
    now = utcnow()
    async with runtime_of(request).db.transaction() as tx:
        key = (r.tenant == who.tenant, r.event_type == event_type, r.recipient_role == recipient_role)
        if not await insert_ignoring_duplicates(tx.conn, notification_rules, {
                "tenant": who.tenant, "event_type": event_type, "recipient_role": recipient_role,
                "channels": channels, "active": change.active, "version": 1, "updated_at": now}):
            await tx.conn.execute(update(notification_rules).where(*key).values(
                channels=channels, active=change.active, version=r.version + 1, updated_at=now))
        version = (await tx.conn.execute(select(r.version).where(*key))).scalar_one()
    rule = rules.Rule(event_type, recipient_role, frozenset(channels), change.active, default.procedure,
                      default.published)
    return _rule_out(rule, True, version)


# -- templates ------------------------------------------------------------------------------------
class TemplateOut(BaseModel):
    template: str
    channel: str
    language: str
    subject: str | None = Field(description="null for an SMS")
    body: str
    source: Literal["shipped", "tenant"]
    version: int = Field(description="0 for the shipped text")
    updated_at: datetime | None
    variables: list[str] = Field(description="The names this template may use")


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: SafeText | None = Field(default=None, max_length=500)
    body: SafeText = Field(min_length=1, max_length=20000)


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: SafeText | None = Field(default=None, max_length=500)
    body: SafeText | None = Field(default=None, min_length=1, max_length=20000)


class PreviewOut(BaseModel):
    template: str
    channel: str
    language: str
    subject: str | None
    body: str
    html: str | None = Field(description="An e-mail's HTML part")
    length: int | None = Field(description="SMS: characters")
    encoding: str | None = Field(description="SMS: GSM-7 or UCS-2")
    segments: int | None = Field(description="SMS: parts it is sent in (160/153 GSM-7, 70/67 UCS-2)")


def _key(template: str, channel: str, language: str) -> tuple[str, str, str]:
    """The path's template, channel and language (es-CL → es), or 404."""
    lang = language.lower()
    lang = {"es-cl": "es"}.get(lang, lang)
    if template not in domain.TEMPLATES_IN_USE or channel not in renderer.channels(template) \
            or lang not in domain.LANGUAGES:
        raise not_found(TEMPLATE_NOT_FOUND)
    return template, channel, lang


def _variables(template: str) -> list[str]:
    return sorted(domain.allowed_variables(template))


def _template_out(template: str, channel: str, language: str, row: Any | None) -> TemplateOut:
    if row is None:
        subject, body = renderer.shipped(template, channel, language)
        return TemplateOut(template=template, channel=channel, language=language, subject=subject, body=body,
                           source="shipped", version=0, updated_at=None, variables=_variables(template))
    return TemplateOut(template=template, channel=channel, language=language, subject=row.subject, body=row.body,
                       source="tenant", version=row.version, updated_at=row.updated_at,
                       variables=_variables(template))


def _where(tenant: str, template: str, channel: str, language: str) -> tuple[Any, ...]:
    t = notification_templates.c
    return (t.tenant == tenant, t.template == template, t.channel == channel, t.language == language)


async def _own(request: Request, tenant: str, template: str, channel: str, language: str) -> Any | None:
    async with runtime_of(request).db.read() as conn:
        return (await conn.execute(select(notification_templates)
                                   .where(*_where(tenant, template, channel, language)))).first()


def _check(template: str, channel: str, subject: str | None, body: str) -> None:
    """422 for a text that does not parse, names what the planners never give, or cannot render."""
    errors = FieldErrors()
    if channel == "email" and not (subject or "").strip():
        errors.add("subject", SUBJECT_REQUIRED, "missing")
    if channel == "sms" and subject is not None:
        errors.add("subject", SUBJECT_NOT_SMS, "not_allowed")
    parts = {"body": body} if channel == "sms" or subject is None else {"subject": subject, "body": body}
    for p in domain.check_template(renderer, template, parts):
        if p.code == "template_syntax":
            errors.add(p.part, (f"Error de sintaxis en la línea {p.line}: {p.message}",
                                f"Syntax error on line {p.line}: {p.message}"), p.code, line=p.line)
        elif p.code == "unknown_variables":
            errors.add(p.part, (f"Variables desconocidas: {p.message}. Disponibles: {', '.join(_variables(template))}.",
                                f"Unknown variables: {p.message}. Available: {', '.join(_variables(template))}."),
                       p.code, variables=list(p.names))
        else:
            where = f" (línea {p.line})" if p.line else ""
            where_en = f" (line {p.line})" if p.line else ""
            errors.add(p.part, (f"La plantilla no se puede generar con una solicitud de ejemplo{where}: {p.message}",
                                f"The template cannot render a sample case{where_en}: {p.message}"), p.code,
                       line=p.line)
    errors.raise_if_any()


@router.get("/notification-templates", response_model=Page[TemplateOut], responses=problem_responses(401, 403, 422))
async def list_templates(request: Request, who: CurrentCaller, page: PageParams) -> Page[TemplateOut]:
    """Every template by channel and language: the tenant's own text, or the shipped one."""
    _admin(who)
    t = notification_templates.c
    async with runtime_of(request).db.read() as conn:
        own = {(row.template, row.channel, row.language): row for row in await conn.execute(
            select(notification_templates).where(t.tenant == who.tenant))}
    keys = [(name, channel, lang) for name in domain.TEMPLATES_IN_USE for channel in renderer.channels(name)
            for lang in domain.LANGUAGES]
    items = [(i, _template_out(*k, own.get(k))) for i, k in enumerate(keys)]
    return Page[TemplateOut].of(*_page_of(items, page, "notification-templates"), key=lambda r: (r[0],),
                                item=lambda r: r[1])


TEMPLATE_PATH = "/notification-templates/{template}/{channel}/{language}"


@router.get(TEMPLATE_PATH, response_model=TemplateOut, responses=problem_responses(401, 403, 404))
async def get_template(template: str, channel: str, language: str, request: Request,
                       who: CurrentCaller) -> TemplateOut:
    _admin(who)
    key = _key(template, channel, language)
    return _template_out(*key, await _own(request, who.tenant, *key))


@router.put(TEMPLATE_PATH, response_model=TemplateOut, responses=problem_responses(401, 403, 404, 422))
async def put_template(template: str, channel: str, language: str, text: TemplateIn, request: Request,
                       who: CurrentCaller) -> TemplateOut:
    """Save the tenant's text (checked first; the next message of this template uses it)."""
    _admin(who)
    key = _key(template, channel, language)
    _check(key[0], key[1], text.subject, text.body)
    t = notification_templates.c
    now = utcnow()
    async with runtime_of(request).db.transaction() as tx:
        if not await insert_ignoring_duplicates(tx.conn, notification_templates, {
                "tenant": who.tenant, "template": key[0], "channel": key[1], "language": key[2],
                "subject": text.subject, "body": text.body, "version": 1, "updated_at": now}):
            await tx.conn.execute(update(notification_templates).where(*_where(who.tenant, *key)).values(
                subject=text.subject, body=text.body, version=t.version + 1, updated_at=now))
        row = (await tx.conn.execute(select(notification_templates).where(*_where(who.tenant, *key)))).first()
    return _template_out(*key, row)


@router.delete(TEMPLATE_PATH, status_code=204, responses=problem_responses(401, 403, 404))
async def reset_template(template: str, channel: str, language: str, request: Request,
                         who: CurrentCaller) -> Response:
    """Back to the shipped text."""
    _admin(who)
    key = _key(template, channel, language)
    async with runtime_of(request).db.transaction() as tx:
        await tx.conn.execute(delete(notification_templates).where(*_where(who.tenant, *key)))
    return Response(status_code=204)


@router.post(TEMPLATE_PATH + "/preview", response_model=PreviewOut, responses=problem_responses(401, 403, 404, 422))
async def preview_template(template: str, channel: str, language: str, request: Request, who: CurrentCaller,
                           draft: Annotated[PreviewIn | None, Body()] = None) -> PreviewOut:
    """A sample case rendered with the draft (or, without one, the current text)."""
    _admin(who)
    key = _key(template, channel, language)
    current = _template_out(*key, await _own(request, who.tenant, *key))
    subject, body = current.subject, current.body
    if draft is not None and (draft.subject is not None or draft.body is not None):
        subject = draft.subject if draft.subject is not None else subject
        body = draft.body if draft.body is not None else body
        _check(key[0], key[1], subject, body)
    context = {**domain.sample_contexts(key[0], key[2])[0],
               domain.OVERRIDE: {"subject": subject, "body": body, "version": 0}}
    try:
        if key[1] == "sms":
            text = renderer.render_sms(key[0], key[2], context)
            size = rules.sms_size(text)
            return PreviewOut(template=key[0], channel="sms", language=key[2], subject=None, body=text, html=None,
                              length=size.length, encoding=size.encoding, segments=size.segments)
        out_subject, out_body = renderer.render(key[0], key[2], context)
    except Exception as exc:  # a draft given subject only, or the sandbox refusing at render time
        raise invalid(field_error("body", (f"La plantilla no se puede generar: {exc}",
                                           f"The template cannot render: {exc}"), "template_error")) from None
    return PreviewOut(template=key[0], channel="email", language=key[2], subject=out_subject, body=out_body,
                      html=domain.html_of(out_body, key[2]), length=None, encoding=None, segments=None)
