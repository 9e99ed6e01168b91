"""Who may do what (R4.4, R2.7). Plain Python: no I/O.

R4.4, as the real-estate procedure states it: an admin acts on every case; an executor creates
cases in the projects of their profile, sees every case, acts only on cases where they are the
responsible, and on the others may only send mail, comment and read the history. Roles the
procedures imply beside those: supervisor (the "jefe" who reopens and escalates: acts on every
case, administers nothing), viewer (reads), technical manager (an executor who also approves
work orders, R2.5). API keys act for integrations: they create and read cases.

R1.4 (the insurer's surrender): the commercial executive is the case's responsible (an executor:
acts on their own case, and reverts it while it is on hold); the unit head is a supervisor (acts
on every case, reverts too); Operations (role ``operations``) executes and finishes the cases of
a hold type (``hold_type``: the type's SLA policy has ``hold_business_days``) whoever their
responsible is, and on any other case only reads, comments and sends mail. Operations creates no
cases. The responsible keeps R4.4's rights on their own case (executing included); the hold
itself (intake refuses executing before ``executable_from``) is what makes the wait."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    EXECUTOR = "executor"
    VIEWER = "viewer"
    TECHNICAL_MANAGER = "technical_manager"
    OPERATIONS = "operations"  # R1.4: executes the cases of hold types (surrenders)
    INTEGRATION = "integration"  # API keys only


class CaseAction(StrEnum):
    CREATE = "create"
    READ = "read"
    HISTORY = "history"
    COMMENT = "comment"
    SEND_MAIL = "send_mail"
    EXECUTE = "execute"
    FINISH = "finish"
    CHANGE_PRIORITY = "change_priority"
    ASSIGN = "assign"
    REOPEN = "reopen"
    MANAGE_TASKS = "manage_tasks"
    APPROVE_WORK_ORDER = "approve_work_order"
    REVERT = "revert"  # R1.4: while on hold; the responsible, supervisors, admins


# R4.4: what an executor may still do on a case where they are not the responsible.
ON_OTHERS_CASES = frozenset({CaseAction.READ, CaseAction.HISTORY, CaseAction.COMMENT, CaseAction.SEND_MAIL})
OWN_CASE_ACTIONS = frozenset(CaseAction) - {CaseAction.REOPEN, CaseAction.APPROVE_WORK_ORDER}
# R1.4: what Operations does on any case of a hold type (besides ``ON_OTHERS_CASES``).
ON_HOLD_TYPE_CASES = frozenset({CaseAction.EXECUTE, CaseAction.FINISH})


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (bearer token) or an integration (API key), always in one tenant."""

    tenant: str
    roles: frozenset[Role]
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    email: str | None = None
    name: str | None = None
    projects: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None  # the access token's jti (logout revokes it)

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


def can_act_on_case(p: Principal, action: CaseAction, *, responsible_id: uuid.UUID | None,
                    project: str | None = None, hold_type: bool = False) -> bool:
    """R4.4 for one action on one existing case (tenant and sharing are checked before this).
    ``hold_type``: the case's type has an R1.4 hold (only Operations' rights depend on it)."""
    if p.has(Role.ADMIN):
        return action != CaseAction.APPROVE_WORK_ORDER or p.has(Role.TECHNICAL_MANAGER)
    if action == CaseAction.APPROVE_WORK_ORDER:
        return p.has(Role.TECHNICAL_MANAGER)
    if p.has(Role.SUPERVISOR):
        return True
    if p.has(Role.OPERATIONS) and hold_type and action in ON_HOLD_TYPE_CASES:
        return True
    if p.has(Role.EXECUTOR, Role.TECHNICAL_MANAGER):
        own = p.user_id is not None and p.user_id == responsible_id
        return action in (OWN_CASE_ACTIONS if own else ON_OTHERS_CASES)
    if p.has(Role.OPERATIONS):
        return action in ON_OTHERS_CASES
    if p.has(Role.INTEGRATION):
        return action in (CaseAction.READ, CaseAction.HISTORY)
    if p.has(Role.VIEWER):
        return action in (CaseAction.READ, CaseAction.HISTORY)
    return False


def can_create_case(p: Principal, project: str | None) -> bool:
    """R4.4: executors create only in the projects of their profile (``project`` as it will be
    stored: see ``project_to_create_in``); admins, supervisors and integrations anywhere in their
    tenant; viewers never."""
    if p.has(Role.ADMIN, Role.SUPERVISOR, Role.INTEGRATION):
        return True
    if p.has(Role.EXECUTOR, Role.TECHNICAL_MANAGER):
        return project is not None and project in p.projects
    return False


class CreateRefusal(Exception):
    """Why ``project_to_create_in`` refuses: 403 (``field`` None) or 422 on ``field``."""

    def __init__(self, message: tuple[str, str], code: str, field: str | None = None) -> None:
        super().__init__(message[1])
        self.message = message
        self.code = code
        self.field = field


VIEWERS_DO_NOT_CREATE = ("Los usuarios de consulta no crean solicitudes; sólo las leen.",
                         "Viewers do not create cases; they only read them.")
OUTSIDE_PROFILE = ("Sólo puede crear solicitudes en los proyectos de su perfil.",
                   "You may only create cases in the projects of your profile.")


def project_to_create_in(p: Principal, project: str | None) -> str | None:
    """R4.4: the project a new case goes to, or a ``CreateRefusal``. An executor creates only in
    the projects of their profile, and leaving the project out does not escape that: with one
    project in the profile the case goes there; with several the executor names one of them
    (422 on ``project``); with none they create nothing (403). Admins, supervisors and
    integrations create anywhere in the tenant, with or without a project; viewers never."""
    if p.has(Role.ADMIN, Role.SUPERVISOR, Role.INTEGRATION):
        return project
    if p.has(Role.EXECUTOR, Role.TECHNICAL_MANAGER):
        if project is None:
            if len(p.projects) == 1:
                return next(iter(p.projects))
            if p.projects:
                mine = ", ".join(sorted(p.projects))
                raise CreateRefusal((f"Indique el proyecto: uno de los de su perfil ({mine}).",
                                     f"Name the project: one of your profile's ({mine})."), "project_required",
                                    "project")
            raise CreateRefusal(("Su perfil no tiene proyectos: no puede crear solicitudes.",
                                 "Your profile has no projects: you cannot create cases."), "no_projects")
        if project not in p.projects:
            raise CreateRefusal(OUTSIDE_PROFILE, "outside_profile")
        return project
    if p.has(Role.VIEWER):
        raise CreateRefusal(VIEWERS_DO_NOT_CREATE, "viewer")
    raise CreateRefusal(("Su rol no crea solicitudes.", "Your role does not create cases."), "role")


def can_administer(p: Principal) -> bool:
    """Users, API keys and the catalog ("mantenedores") are admin-only writes."""
    return p.has(Role.ADMIN)


def can_see_party(p: Principal, *, restricted: bool, shared_with: frozenset[uuid.UUID]) -> bool:
    """R2.7: a party restricted to chosen users is invisible to the rest (admins see all)."""
    if not restricted or p.has(Role.ADMIN):
        return True
    return p.user_id is not None and p.user_id in shared_with


def can_write_parties(p: Principal) -> bool:
    """Create and change parties, their contacts and (not supplies) their assets: the agents and
    those above them; not viewers, not API keys (they only import supplies)."""
    return p.has(Role.ADMIN, Role.SUPERVISOR, Role.EXECUTOR, Role.TECHNICAL_MANAGER)


def can_change_party_sharing(p: Principal, *, created_by: uuid.UUID | None) -> bool:
    """R2.7: who a party is shared with is chosen by an admin or by the user who created it."""
    return p.has(Role.ADMIN) or (p.user_id is not None and p.user_id == created_by and can_write_parties(p))


def can_import_supplies(p: Principal) -> bool:
    """R2.1: supplies come from the billing system: an admin or an integration (API key) loads them."""
    return p.has(Role.ADMIN, Role.INTEGRATION)
