"""Accounts' use cases: tenants, users (R4.1 invitations, R4.4 roles and projects), sessions
(log in with lockout, log out, password set-up) and API keys. Each use case is one transaction
(``UnitOfWork``): the row being changed is locked first and the checks are made on it as locked.

The steps ``create_tenant``, ``create_user``, ``invite`` and ``emit_profile`` take the open
transaction (``uow.tx``) because the seed and the CLI share them inside their own transactions.
Events: ``user.upserted.v1`` on every create or change (deactivation and role changes included:
other services keep their copies from it), ``user.invited.v1`` for a password set-up link,
``user.session_revoked.v1`` on logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.adapters import account_queries as q
from services.intake.adapters import attempt_tables as attempts
from services.intake.adapters import catalog_tables as catalog_store
from services.intake.adapters.credentials import (
    digest,
    hash_password,
    new_api_key,
    new_token,
    password_problems,
    verify_password,
)
from services.intake.domain import accounts as rules
from services.intake.domain.access import Principal, Role
from services.intake.service_layer.unit_of_work import UnitOfWork
from shared.auth import InvalidToken, issue_token, verify_token
from shared.contracts.envelope import Envelope
from shared.contracts.events import UserInvited, UserProfile, UserSessionRevoked
from shared.db import Database, Tx, utcnow
from shared.fields import phone_in_region
from shared.logs import correlation_id
from shared.paging import Page, PageQuery
from shared.rate_limits import Limit, too_many
from shared.refusals import (
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_REVOKED,
    USER_DEACTIVATED,
    FieldErrors,
    Refused,
    field_error,
    invalid,
    not_found,
    unauthenticated,
)
from shared.settings import Settings

SOURCE = "atiende/intake"
ASSIGNABLE_ROLES = rules.ASSIGNABLE_ROLES
USER_NOT_FOUND = ("Usuario no encontrado", "User not found")
API_KEY_NOT_FOUND = ("Clave no encontrada", "API key not found")
DUPLICATE_EMAIL = ("Ya existe un usuario con ese correo.", "A user with that e-mail exists.")
DUPLICATE_SLUG = ("Ya existe un cliente con ese identificador.", "A tenant with that slug exists.")
INVALID_SETUP_LINK = ("El enlace no es válido, ya se usó o expiró; pida uno nuevo.",
                      "The link is invalid, used or expired; ask for a new one.")


# -- steps shared with the seed and the CLI ------------------------------------------------------
def user_profile(row: Any, tenant_language: Any) -> UserProfile:
    return UserProfile(user_id=row.id, email=row.email, name=row.name, mobile=row.mobile,
                       roles=rules.unique(row.roles), manager_id=row.manager_id, projects=rules.unique(row.projects),
                       escalation_subscriptions=rules.unique(row.escalation_subscriptions),
                       language=row.language or tenant_language, active=row.active)


async def _emit(tx: Tx, tenant: str, type_: str, subject: str, payload: Any) -> None:
    # The same outbox write as ``UnitOfWork.emit`` (whose ``tx`` this is), usable by the seed's
    # own transaction too.
    await tx.emit(Envelope(source=SOURCE, type=type_, subject=subject, tenant=tenant,
                           correlationid=correlation_id.get(), data=payload.model_dump(mode="json")))


async def emit_profile(tx: Tx, row: Any, tenant_language: str) -> None:
    await _emit(tx, row.tenant, "user.upserted.v1", str(row.id), user_profile(row, tenant_language))


async def create_tenant(tx: Tx, *, slug: str, name: str, country: str, timezone: str, language: str) -> None:
    await q.insert_tenant(tx.conn, {"slug": slug, "name": name, "country": country.upper(), "timezone": timezone,
                                    "language": language, "next_case_number": 1, "created_at": utcnow()})


async def create_user(tx: Tx, tenant: Any, data: dict[str, Any], *, password_hash: str | None = None) -> Any:
    now = utcnow()
    created = await q.insert_user(tx.conn, {
        "id": uuid.uuid4(), "tenant": tenant.slug, "email": data["email"].lower(), "name": data["name"],
        "mobile": data.get("mobile"), "roles": rules.unique(data["roles"]), "manager_id": data.get("manager_id"),
        "projects": rules.unique(data.get("projects") or []),
        "escalation_subscriptions": rules.unique(data.get("escalation_subscriptions") or []),
        "language": data.get("language"), "active": True, "password_hash": password_hash, "failed_logins": 0,
        "locked_until": None, "created_at": now, "updated_at": now})
    await emit_profile(tx, created, tenant.language)
    return created


async def invite(tx: Tx, tenant: Any, user: Any, settings: Settings) -> str:
    """Issue a one-time password set-up link (earlier unused links stop working) and have
    notifier e-mail it (R4.1). Returns the raw token (only the digest is stored)."""
    now = utcnow()
    await q.void_setup_links(tx.conn, user.id, now)
    token = new_token()
    expires = now + timedelta(hours=settings.invite_ttl_hours)
    await q.add_setup_link(tx.conn, {"token_hash": digest(token), "user_id": user.id, "expires_at": expires,
                                     "used_at": None})
    await _emit(tx, tenant.slug, "user.invited.v1", str(user.id), UserInvited(
        user_id=user.id, email=user.email, name=user.name, language=user.language or tenant.language,
        tenant_name=tenant.name, expires_at=expires,
        # The console's page (a browser opens the link), which posts to POST /auth/password-setup.
        setup_url=f"{settings.public_url.rstrip('/')}/console/password-setup?token={token}"))
    return token


# -- rate limits (shared/rate_limits.py; failures in attempt_tables, counted across replicas) ----
NO_TENANT = ""  # the tenant column of limits that count across tenants (a client address, an API key)


def _limit(settings: Settings, max_failures: int) -> Limit:
    return Limit.of(max_failures, settings.attempt_window_minutes)


async def _refuse_if_throttled(conn: AsyncConnection, checks: list[tuple[str, str, Limit]], now: datetime) -> None:
    wait = await attempts.wait_for(conn, NO_TENANT, checks, now)
    if wait is not None:
        raise too_many(wait)


async def _count_failure(conn: AsyncConnection, checks: list[tuple[str, str, Limit]], now: datetime,
                         tenant: str = NO_TENANT) -> None:
    forget = now - max(limit.window for _, _, limit in checks)
    await attempts.add_failure(conn, tenant, {scope: key for scope, key, _ in checks}, now, forget)


# -- authentication (every request) -------------------------------------------------------------
async def principal_of_api_key(db: Database, settings: Settings, secret: str, key: str, client_ip: str) -> Principal:
    """The integration an ``X-API-Key`` is; bad keys are counted per client address and per key
    prefix: too many in the window (``api_key_max_failures``) and every key from there, good or
    bad, is answered 429 until the window frees one (guessing stops early)."""
    now = utcnow()
    limit = _limit(settings, settings.api_key_max_failures)
    checks = [("key-ip", attempts.key_hash(secret, "key-ip", client_ip), limit),
              ("key-prefix", attempts.key_hash(secret, "key-prefix", key[:10]), limit)]
    async with db.read() as conn:
        await _refuse_if_throttled(conn, checks, now)
        row = await q.api_key_by_hash(conn, digest(key))
    if row is None or row.revoked_at is not None:
        async with db.engine.begin() as conn:
            await _count_failure(conn, checks, now)
        raise unauthenticated(("La clave de API no es válida o fue revocada.", "Invalid or revoked API key."))
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        async with db.engine.begin() as conn:  # coarse: at most one write a minute per key
            await q.touch_api_key(conn, row.id, now)
    return Principal(tenant=row.tenant, roles=frozenset({Role.INTEGRATION}), api_key_id=row.id, name=row.name)


async def principal_of_token(db: Database, secret: str, token: str) -> Principal:
    try:
        claims = verify_token(secret, token)
    except InvalidToken as exc:
        if exc.reason == "expired":
            raise unauthenticated(TOKEN_EXPIRED) from None
        raise unauthenticated(TOKEN_INVALID) from None
    # intake checks its token table too: logout and deactivation take effect at once.
    async with db.read() as conn:
        row = await q.session(conn, digest(claims.jti))
    if row is None or row.revoked_at is not None or row.tenant != claims.tenant:
        raise unauthenticated(TOKEN_REVOKED)
    if row.expires_at <= utcnow():
        raise unauthenticated(TOKEN_EXPIRED)
    if not row.active:
        raise unauthenticated(USER_DEACTIVATED)
    # Roles and projects come from the table, not the token: a change applies to the next request.
    return Principal(tenant=row.tenant, roles=frozenset(Role(r) for r in row.roles), user_id=row.id,
                     email=row.email, name=row.name, projects=frozenset(row.projects), token_id=claims.jti)


# -- sessions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issued:
    access_token: str
    expires_in: int  # seconds


async def log_in(db: Database, settings: Settings, secret: str, *, tenant: str, email: str,
                 password: str, client_ip: str) -> Issued:
    """E-mail, password and tenant → a bearer token. Repeated failures lock the account for a while
    (``login_max_failures``, ``login_lock_minutes``), and failures from one client address on any
    accounts are limited too (``login_ip_max_failures`` in ``attempt_window_minutes``): 429 with
    Retry-After, even for the right password; the same 401 whichever part was wrong."""
    now = utcnow()
    email = email.strip().lower()
    by_ip = [("login-ip", attempts.key_hash(secret, "login-ip", client_ip),
              _limit(settings, settings.login_ip_max_failures))]
    # An e-mail with no account is locked as an account would be (its failures are counted in
    # failed_attempts instead of on a users row): a 429 tells nothing about which e-mails exist.
    no_account = [("login-account", attempts.key_hash(secret, "login-account", email),
                   Limit.of(settings.login_max_failures, settings.login_lock_minutes))]
    async with db.read() as conn:
        seen = await q.user_by_email(conn, tenant, email)
        _refuse_if_locked(seen, now)
        if seen is None:
            _refuse_while_locked(await attempts.wait_for(conn, tenant, no_account, now))
        await _refuse_if_throttled(conn, by_ip, now)
    # The slow hash runs outside the transaction (no row lock, no connection held meanwhile).
    ok = verify_password(seen.password_hash if seen is not None else None, password)
    refusal: Refused | None = None
    async with UnitOfWork(db) as uow:
        user = await q.user_by_email(uow.conn, tenant, email, lock=True) if seen is not None else None
        if user is None or not ok or not user.active:
            if user is not None and not ok:
                step = rules.after_failure(user.failed_logins, now, max_failures=settings.login_max_failures,
                                           lock_minutes=settings.login_lock_minutes)
                await q.update_user(uow.conn, user.id, {"failed_logins": step.failed_logins,
                                                        "locked_until": step.locked_until})
            if user is None:
                await _count_failure(uow.conn, no_account, now, tenant)
            await _count_failure(uow.conn, by_ip, now)
            refusal = unauthenticated(rules.WRONG_CREDENTIALS)  # raised after the commit
        else:
            _refuse_if_locked(user, now)  # locked meanwhile by a concurrent failure
            jti = new_token()
            ttl = timedelta(hours=settings.token_ttl_hours)
            token = issue_token(secret, user_id=user.id, tenant=user.tenant, roles=rules.unique(user.roles),
                                jti=jti, now=now, ttl=ttl)
            await q.update_user(uow.conn, user.id, {"failed_logins": 0, "locked_until": None})
            await q.add_access_token(uow.conn, {"token_hash": digest(jti), "user_id": user.id, "tenant": user.tenant,
                                                "created_at": now, "expires_at": now + ttl, "revoked_at": None})
    if refusal is not None:
        raise refusal
    return Issued(access_token=token, expires_in=int(ttl.total_seconds()))


def _refuse_if_locked(user: Any, now: Any) -> None:
    _refuse_while_locked(rules.locked_for(user.locked_until, now) if user is not None else None)


def _refuse_while_locked(wait: int | None) -> None:
    if wait is not None:
        title, detail = rules.locked_texts(wait)
        raise Refused(429, "login-locked", title, detail, headers={"Retry-After": str(wait)})


async def log_out(db: Database, who: Principal) -> None:
    """Revoke the token this request carries, here at once and, through
    ``user.session_revoked.v1``, on every other service that accepts tokens."""
    if who.user_id is None or not who.token_id:
        return  # an API key: nothing to end
    async with UnitOfWork(db) as uow:
        token = await q.lock_access_token(uow.conn, digest(who.token_id))
        if token is None or token.revoked_at is not None:
            return  # already revoked by a concurrent logout: one event is enough
        now = utcnow()
        await q.revoke_access_token(uow.conn, token.token_hash, now)
        await uow.emit(who.tenant, "user.session_revoked.v1", UserSessionRevoked(
            user_id=who.user_id, token_id=who.token_id, expires_at=token.expires_at, at=now),
            subject=str(who.user_id))


async def set_password(db: Database, settings: Settings, secret: str, token: str, password: str,
                       client_ip: str) -> None:
    """Set a password with the one-time link an admin's invitation e-mailed (R4.1); it ends every
    open session of that user. Bad links are counted per client address: too many in the window
    (``password_setup_max_failures``) and every attempt from there is 429 with Retry-After."""
    now = utcnow()
    by_ip = [("setup-ip", attempts.key_hash(secret, "setup-ip", client_ip),
              _limit(settings, settings.password_setup_max_failures))]
    async with db.read() as conn:
        await _refuse_if_throttled(conn, by_ip, now)
    refusal: Refused | None = None
    async with UnitOfWork(db) as uow:
        link = await q.lock_setup_link(uow.conn, digest(token))
        if link is None or link.used_at is not None or link.expires_at <= now:
            await _count_failure(uow.conn, by_ip, now)
            refusal = invalid(field_error("token", INVALID_SETUP_LINK, "invalid_setup_token"))  # after the commit
        else:
            problems = password_problems(password, link.email)
            if problems:
                raise invalid(*(field_error("password", msg, "weak_password") for msg in problems))
            await q.use_setup_link(uow.conn, link.token_hash, now)
            await q.update_user(uow.conn, link.user_id, {"password_hash": hash_password(password), "failed_logins": 0,
                                                         "locked_until": None, "updated_at": now})
            await q.revoke_sessions_of(uow.conn, link.user_id, now)
    if refusal is not None:
        raise refusal


# -- tenants ------------------------------------------------------------------------------------
async def create_tenant_with_admin(db: Database, settings: Settings, *, slug: str, name: str, country: str,
                                   timezone: str, language: str, admin_email: str, admin_name: str) -> Row[Any]:
    """The platform operator's (or the CLI's) new tenant and its first admin, who receives a
    password set-up link by e-mail (R4.1)."""
    try:
        async with UnitOfWork(db) as uow:
            await create_tenant(uow.tx, slug=slug, name=name, country=country, timezone=timezone, language=language)
            tenant = await q.tenant(uow.conn, slug)
            assert tenant is not None
            admin = await create_user(uow.tx, tenant, {"email": admin_email, "name": admin_name,
                                                       "roles": [Role.ADMIN.value]})
            await invite(uow.tx, tenant, admin, settings)
    except IntegrityError:
        raise invalid(field_error("slug", DUPLICATE_SLUG, "duplicate_slug")) from None
    return tenant


async def tenant_of(db: Database, who: Principal) -> Row[Any]:
    async with db.read() as conn:
        row = await q.tenant(conn, who.tenant)
    assert row is not None  # a principal's tenant exists
    return row


# -- users --------------------------------------------------------------------------------------
async def _project_errors(conn: AsyncConnection, who: Principal, codes: list[str], assigned: Any = ()
                          ) -> list[dict[str, Any]]:
    states = await catalog_store.entry_states(conn, "project", who.tenant, set(codes))
    return [field_error(f, text, code) for f, text, code in rules.project_problems(codes, states, assigned)]


async def _subscription_errors(conn: AsyncConnection, who: Principal, codes: list[str], held: Any = ()
                               ) -> list[dict[str, Any]]:
    """R4.9: a user subscribes to the tenant's active escalation kinds (one already held may stay
    after its kind was deactivated)."""
    states = await catalog_store.entry_states(conn, "escalation_kind", who.tenant, set(codes))
    return [field_error(f"escalation_subscriptions.{i}", ("No existe un tipo de escalamiento activo con ese código.",
                                                          "No active escalation kind with that code."),
                        "unknown_escalation_kind")
            for i, c in enumerate(codes) if not states.get(c) and not (c in states and c in (held or ()))]


async def _manager_errors(conn: AsyncConnection, who: Principal, user_id: uuid.UUID | None,
                          manager_id: uuid.UUID | None) -> list[dict[str, Any]]:
    """The manager must be a user of the tenant, and the line above must not loop."""
    seen = {user_id} if user_id else set()
    current = manager_id
    while current is not None:
        if current in seen:
            return [field_error("manager_id", rules.MANAGER_CYCLE, "manager_cycle")]
        seen.add(current)
        row = await q.manager_link(conn, who.tenant, current)
        if row is None:
            return [field_error("manager_id", rules.UNKNOWN_MANAGER, "unknown_manager")]
        current = row.manager_id
    return []


async def add_user(db: Database, settings: Settings, who: Principal, data: dict[str, Any]) -> Row[Any]:
    """Create a user; they receive an e-mail with a one-time link to set their password (R4.1).
    Their ``projects`` must be active projects of the tenant's catalog (R4.4). Every problem is
    reported at once; a refused request stores nothing and emits nothing."""
    email = data["email"].lower()
    try:
        async with UnitOfWork(db) as uow:
            errors = FieldErrors()
            if await q.user_by_email(uow.conn, who.tenant, email) is not None:
                errors.add("email", DUPLICATE_EMAIL, "duplicate_email")
            errors.extend(await _project_errors(uow.conn, who, data.get("projects") or []))
            errors.extend(await _manager_errors(uow.conn, who, None, data.get("manager_id")))
            errors.extend(await _subscription_errors(uow.conn, who, data.get("escalation_subscriptions") or []))
            tenant = await q.tenant(uow.conn, who.tenant)
            assert tenant is not None  # a principal's tenant exists
            data = {**data, "mobile": phone_in_region(data.get("mobile"), tenant.country, "mobile", errors)}
            errors.raise_if_any()
            row: Row[Any] = await create_user(uow.tx, tenant, data)
            await invite(uow.tx, tenant, row, settings)
    except IntegrityError:  # the same e-mail created concurrently
        raise invalid(field_error("email", DUPLICATE_EMAIL, "duplicate_email")) from None
    return row


async def list_users(db: Database, who: Principal, page: PageQuery, *, active: bool | None = None,
                     role: str | None = None) -> Page[Any]:
    """The tenant's users by e-mail (everyone may list them, to pick a responsible). Filters
    apply before the page is cut."""
    after = page.after("users", str)
    async with db.read() as conn:
        rows = await q.list_users(conn, who.tenant, active=active, role=role,
                                  after_email=after[0] if after else None, limit=page.limit + 1)
    return Page[Any].of(rows, page, "users", key=lambda r: (r.email,), item=lambda r: r)


async def get_user(db: Database, who: Principal, user_id: uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        row = await q.user(conn, who.tenant, user_id)
    if row is None:
        raise not_found(USER_NOT_FOUND)
    return row


async def change_user(db: Database, who: Principal, user_id: uuid.UUID, changes: dict[str, Any]) -> Row[Any]:
    """Change a user's profile, roles, manager, projects, subscriptions or active flag (admin).
    Deactivating ends the user's sessions at once. New ``projects`` must be active projects of
    the catalog (R4.4); an inactive one the user already has may stay. Roles, projects and
    subscriptions are sets. Emits ``user.upserted.v1`` (other services apply a deactivation or a
    role change from it)."""
    changes = dict(changes)
    for name in ("roles", "projects", "escalation_subscriptions"):
        if name in changes:
            changes[name] = rules.unique(changes[name])
    async with UnitOfWork(db) as uow:
        current = await q.user(uow.conn, who.tenant, user_id, lock=True)
        if current is None:
            raise not_found(USER_NOT_FOUND)
        errors = FieldErrors()
        if "projects" in changes:  # on the locked row: what the user has now may stay
            errors.extend(await _project_errors(uow.conn, who, changes["projects"], current.projects))
        if "manager_id" in changes:
            errors.extend(await _manager_errors(uow.conn, who, user_id, changes["manager_id"]))
        if "escalation_subscriptions" in changes:
            errors.extend(await _subscription_errors(uow.conn, who, changes["escalation_subscriptions"],
                                                     current.escalation_subscriptions))
        if rules.removes_own_administration(who.user_id, user_id, changes):
            errors.add("roles", rules.SELF_LOCKOUT, "self_lockout")
        tenant = await q.tenant(uow.conn, who.tenant)
        assert tenant is not None
        if "mobile" in changes:  # a national number is read in the tenant's country
            changes["mobile"] = phone_in_region(changes["mobile"], tenant.country, "mobile", errors)
        errors.raise_if_any()
        now = utcnow()
        row = await q.update_user(uow.conn, user_id, {**changes, "updated_at": now} if changes else {})
        if changes.get("active") is False:
            await q.revoke_sessions_of(uow.conn, user_id, now)
        await emit_profile(uow.tx, row, tenant.language)
    return row


async def resend_invitation(db: Database, settings: Settings, who: Principal, user_id: uuid.UUID) -> None:
    """E-mail a new one-time password set-up link (earlier links stop working)."""
    async with UnitOfWork(db) as uow:
        user = await q.user(uow.conn, who.tenant, user_id, lock=True)
        if user is None:
            raise not_found(USER_NOT_FOUND)
        await invite(uow.tx, await q.tenant(uow.conn, who.tenant), user, settings)


# -- API keys -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewKey:
    row: dict[str, Any]
    key: str  # shown once; only its digest is stored


async def create_api_key(db: Database, who: Principal, name: str) -> NewKey:
    key = new_api_key()
    row = {"id": uuid.uuid4(), "tenant": who.tenant, "name": name, "prefix": key[:10], "key_hash": digest(key),
           "created_by": who.user_id, "created_at": utcnow(), "last_used_at": None, "revoked_at": None}
    async with UnitOfWork(db) as uow:
        await q.insert_api_key(uow.conn, row)
    return NewKey(row=row, key=key)


async def list_api_keys(db: Database, who: Principal, page: PageQuery) -> Page[Any]:
    after = page.after("api-keys", datetime, uuid.UUID)
    async with db.read() as conn:
        rows = await q.list_api_keys(conn, who.tenant, after=(after[0], after[1]) if after else None,
                                     limit=page.limit + 1)
    return Page[Any].of(rows, page, "api-keys", key=lambda r: (r.created_at, r.id), item=lambda r: r)


async def revoke_api_key(db: Database, who: Principal, key_id: uuid.UUID) -> None:
    async with UnitOfWork(db) as uow:
        key = await q.lock_api_key(uow.conn, who.tenant, key_id)
        if key is None or key.revoked_at is not None:
            raise not_found(API_KEY_NOT_FOUND)
        await q.revoke_api_key(uow.conn, key_id, utcnow())
