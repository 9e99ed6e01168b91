"""Customer self-service (R3.5): a customer finds one request by its number and their national
id, and files a late-response or disagreement follow-up on it. The rules are
``domain/self_service.py`` (over R3.4's ``domain/triage.py``); the follow-up itself is filed, and
an escalation made, by the staff path's own use cases (``cases.create_case``,
``cases.escalate_to_supervisor``), acting as ``actor()``: "Autogestión del cliente" in history.

Nothing here is reachable with a staff token, and no staff token is needed: the look-up answers
the same 404 whatever part was wrong (tenant, number, national id) after the same queries, and
hands back a short-lived token signed for this one case, which is all the follow-up accepts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jwt
from pydantic import BaseModel, ValidationError

from services.intake.adapters import repository as repo
from services.intake.adapters import self_service_tables as q
from services.intake.adapters import triage_queries
from services.intake.domain import lifecycle, triage
from services.intake.domain import parties as party_rules
from services.intake.domain import self_service as rules
from services.intake.domain.access import Principal, Role
from services.intake.service_layer import cases
from shared import clock, rate_limits
from shared.auth import ALGORITHM, ISSUER
from shared.db import Database, utcnow
from shared.refusals import Refused, conflict, field_error, invalid, not_found, unauthenticated

Text = rules.Text
AUDIENCE = "atiende/self-service"
ESCALATE_AGAIN_AFTER = timedelta(days=1)  # one e-mail to the supervisor per case and day, however often pressed


def actor(tenant: str) -> Principal:
    """Who acts for the customer. Admin rights inside the tenant so that R4.4 and R2.7 (written for
    staff) do not hide the customer's own request from them; what it may do is only what this module
    does with it, on the one case the customer proved to be theirs."""
    return Principal(tenant=tenant, roles=frozenset({Role.ADMIN}), name=rules.ACTOR_NAME)


# -- the token -------------------------------------------------------------------------------------
def _signing_key(secret: str) -> str:
    # Derived from the token secret: a self-service token never verifies as an access token, nor
    # the other way round (they are signed with different keys and name different audiences).
    return hmac.new(secret.encode(), b"atiende self-service token", hashlib.sha256).hexdigest()


def issue_token(secret: str, tenant: str, case_id: uuid.UUID, now: datetime) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": str(case_id), "tenant": tenant, "jti": secrets.token_urlsafe(12),
              "iat": int(now.timestamp()), "exp": int((now + rules.TOKEN_TTL).timestamp())}
    return jwt.encode(claims, _signing_key(secret), algorithm=ALGORITHM)


def case_of_token(secret: str, tenant: str, token: str | None) -> uuid.UUID:
    """The one case a self-service token is for, in ``tenant``; 401 for anything else."""
    refusal = unauthenticated(rules.TOKEN_INVALID)
    if not token:
        raise refusal
    try:
        # Expiry against the one "now" (shared/clock.py), as access tokens do.
        c = jwt.decode(token, _signing_key(secret), algorithms=[ALGORITHM], issuer=ISSUER, audience=AUDIENCE,
                       options={"require": ["exp", "sub", "aud", "iss"], "verify_exp": False, "verify_iat": False})
        if not isinstance(c["exp"], int) or c["exp"] <= clock.now().timestamp() or c.get("tenant") != tenant:
            raise refusal
        return uuid.UUID(str(c["sub"]))
    except (jwt.PyJWTError, ValueError, KeyError):
        raise refusal from None


# -- looking a request up --------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """What the customer may see of their request, nothing more."""

    number: str
    type_name: Text
    status: str
    status_label: Text
    created_on: date
    max_response_date: date | None
    kinds: list[triage.FollowUpKind]
    message: Text
    token: str
    expires_in: int


async def _refuse_if_throttled(db: Database, tenant: str, keys: dict[str, str], now: datetime) -> None:
    async with db.read() as conn:
        wait = await q.wait_for(conn, tenant, [(scope, key, rules.LIMIT) for scope, key in keys.items()], now)
    if wait is not None:
        raise rate_limits.too_many(wait)


def _matches(given: str, row: Any | None) -> bool:
    # Both keys are always compared, in constant time: a near miss takes as long as a far one.
    party = hmac.compare_digest(given, (row.party_key if row is not None else None) or "")
    owner = hmac.compare_digest(given, (row.owner_key if row is not None else None) or "")
    return row is not None and (party or owner)


async def look_up(db: Database, secret: str, *, tenant: str, number: str,
                  national_id: str, client_ip: str) -> Found:
    """R3.5: the request with that number in the tenant, if ``national_id`` is its party's (or
    its asset owner's). Every mismatch is the same 404 and counts against the client's address and
    the number typed; too many in the window: 429 with Retry-After, before anything is looked up."""
    now = utcnow()
    number = rules.number_key(number)
    keys = {scope: q.key_hash(secret, scope, value) for scope, value in (("ip", client_ip), ("number", number))}
    await _refuse_if_throttled(db, tenant, keys, now)
    async with db.read() as conn:  # not the catalog cache: it would keep every slug anyone types
        known = await q.tenant(conn, tenant)
    try:  # a malformed id (bad check digit) is a typing error to fix, and says nothing about any case
        given = party_rules.normalize_national_id(national_id, known.country if known is not None else "CL").key
    except party_rules.InvalidNationalId as exc:
        raise invalid(field_error("national_id", exc.message, "invalid_national_id")) from None
    async with db.read() as conn:
        row = await q.case_by_number(conn, tenant, number)
    if known is None or not _matches(given, row):
        async with db.transaction() as tx:
            await q.add_failure(tx.conn, tenant, keys, now, now - rules.WINDOW)
        raise not_found(rules.NOT_FOUND)
    assert row is not None
    return await _found(db, secret, known, row, now)


async def _found(db: Database, secret: str, tenant: Any, row: Any, now: datetime) -> Found:
    who = actor(tenant.slug)
    async with db.read() as conn:
        plain = await triage_queries.decision_for(conn, who, row, customer_disagrees=False, business_line=None,
                                                  now=now)
        disagreeing = await triage_queries.decision_for(conn, who, row, customer_disagrees=True, business_line=None,
                                                        now=now)
    line = plain.business_line
    kinds = [k for k, st in ((triage.FollowUpKind.LATE_RESPONSE, plain), (triage.FollowUpKind.DISAGREEMENT,
                                                                          disagreeing))
             if rules.offered(k, st.decision, line=line) and await _fileable(db, tenant.slug, k, st.decision)]
    zone = ZoneInfo(tenant.timezone)
    about = plain.table_follow_up if plain.decision.about == triage.About.FOLLOW_UP else plain.original
    return Found(
        number=row.number, type_name=(row.type_name_es or row.type_code, row.type_name_en or row.type_code),
        status=row.status, status_label=lifecycle.STATUS_LABELS[lifecycle.Status(row.status)],
        created_on=row.created_at.astimezone(zone).date(), max_response_date=_due(row, zone), kinds=kinds,
        message=rules.status_message(plain.decision, number=row.number, due=_due(about, zone), line=line),
        token=issue_token(secret, tenant.slug, row.id, now), expires_in=int(rules.TOKEN_TTL.total_seconds()))


def _due(row: Any, zone: ZoneInfo) -> date | None:
    if row is None or row.due_at is None:
        return None
    day: date = row.due_date or row.due_at.astimezone(zone).date()
    return day


async def _fileable(db: Database, tenant: str, kind: triage.FollowUpKind, d: triage.Decision) -> bool:
    """The tenant's catalog has a case type for ``kind`` (R3.1); an escalation files nothing."""
    if d.action == triage.Action.ESCALATE_TO_SUPERVISOR:
        return True
    async with db.read() as conn:
        return await repo.type_for_follow_up_kind(conn, tenant, kind.value) is not None


# -- filing a follow-up ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Filed:
    number: str
    follow_up_of: str  # the original's number


SELF_SERVICE_CHANNEL = "web"  # the catalog's "Sitio web" channel, when the tenant has it and the type allows it


async def file_follow_up(db: Database, catalog: repo.CatalogCache, secret: str, *, tenant: str, token: str | None,
                         kind: triage.FollowUpKind, text: str, case_body: type[BaseModel]) -> Filed:
    """R3.5 with R3.4: file ``kind`` on the token's case when triage says to create exactly that;
    where triage says to escalate (rules 6–8), escalate to the supervisor as the staff path does
    and refuse with why (409 ``escalated-to-supervisor``); otherwise refuse with what triage says
    instead (409 ``follow-up-not-called-for``). ``case_body``: the staff API's case body (``CaseIn``),
    which the follow-up is built as, from the original: the customer types only the text."""
    case_id = case_of_token(secret, tenant, token)
    who = actor(tenant)
    now = utcnow()
    disagrees = kind == triage.FollowUpKind.DISAGREEMENT
    async with db.read() as conn:
        row = await repo.tenant_case(conn, tenant, case_id)
        if row is None:
            raise unauthenticated(rules.TOKEN_INVALID)
        st = await triage_queries.decision_for(conn, who, row, customer_disagrees=disagrees, business_line=None,
                                               now=now)
        type_code = await repo.type_for_follow_up_kind(conn, tenant, kind.value)
        escalated = await q.escalated_since(conn, st.original.id, rules.ACTOR_NAME, now - ESCALATE_AGAIN_AFTER)
    d, original = st.decision, st.original
    if not rules.offered(kind, d, line=st.business_line):
        known = await catalog.tenant(tenant)
        assert known is not None  # the token's tenant, which exists
        about = st.table_follow_up if d.about == triage.About.FOLLOW_UP else original
        why = rules.not_offered_message(kind, d, number=row.number, due=_due(about, ZoneInfo(known.timezone)),
                                        line=st.business_line)
        raise conflict("follow-up-not-called-for", ("No corresponde ese seguimiento", "That follow-up does not apply"),
                       why, [field_error("kind", why, "follow_up_not_called_for")], rule=d.rule)
    if d.action == triage.Action.ESCALATE_TO_SUPERVISOR:
        if not escalated:  # the same path as the staff's button: history line, event, workflow, e-mail
            await cases.escalate_to_supervisor(db, who, original.id, rules.escalation_note(d, text,
                                                                                           number=original.number),
                                               customer_disagrees=disagrees)
        told = rules.escalated_message(d)
        raise conflict("escalated-to-supervisor", ("Su caso fue escalado a un supervisor",
                                                   "Your case was escalated to a supervisor"),
                       told, [field_error("kind", told, "escalated_to_supervisor")], rule=d.rule, escalated=True)
    if type_code is None:
        raise conflict("self-service-unavailable", rules.UNAVAILABLE, rules.UNAVAILABLE,
                       [field_error("kind", rules.UNAVAILABLE, "no_case_type")])
    try:
        body = case_body.model_validate(await _follow_up_case(catalog, tenant, original, type_code, kind, text))
        made = await cases.create_case(db, catalog, who, body, present=lambda c: {"number": c.number})
    except (Refused, ValidationError) as exc:
        if isinstance(exc, Refused) and exc.status != 422:
            raise
        # The original lacks what the type requires (a phone, a channel…): an agent files it.
        raise conflict("self-service-unavailable", rules.UNAVAILABLE, rules.UNAVAILABLE,
                       [field_error("kind", rules.UNAVAILABLE, "not_fileable_online")]) from None
    return Filed(number=str(made.body["number"]), follow_up_of=original.number)


async def _follow_up_case(catalog: repo.CatalogCache, tenant: str, original: Any, type_code: str,
                          kind: triage.FollowUpKind, text: str) -> dict[str, Any]:
    """The follow-up as a case body: the original's contact, responsible, project, party and
    asset; the "web" channel when the tenant has it and the type allows it; the type's pinned
    area, else the original's."""
    ctype = await catalog.case_type(tenant, type_code)
    allowed = getattr(ctype, "allowed_channels", None)
    web = SELF_SERVICE_CHANNEL in await catalog.active_codes(tenant, "channel") and (
        allowed is None or SELF_SERVICE_CHANNEL in allowed)
    pinned = (getattr(ctype, "pinned", None) or {}) if ctype is not None else {}
    body = {"type": type_code, "subject": rules.follow_up_subject(kind, original.number), "description": text,
            "contact": {"name": original.contact_name, "email": original.contact_email,
                        "phone": original.contact_phone},
            "project": original.project, "channel": SELF_SERVICE_CHANNEL if web else None,
            "area": None if pinned.get("area") else original.area, "party_id": original.party_id,
            "asset_id": original.asset_id, "association": original.association, "follow_up_of": original.id,
            "not_satisfied": kind == triage.FollowUpKind.DISAGREEMENT}
    if original.responsible_id is not None:
        body["responsible_id"] = original.responsible_id
    else:
        body["responsible_email"] = original.responsible_email
    return body
