"""R4.4 authorisation matrix, one table (issue 15 §2): every role × every action × own/other's
case × own/other tenant → the status the procedures call for, on all four services.

The expectations are written from the procedures (R4.4, R2.5, README's "Who may do what"), not
read from the code:

- R4.4: an admin acts on every case; an executor creates cases in their profile's projects,
  sees every case, acts on the cases where they are the responsible, and on the others only
  comments, sends mail and reads history. Supervisors act on every case and reopen; they
  administer nothing. A viewer reads. A technical manager is an executor who also approves work
  orders — R2.5: only the technical manager approves them (an admin without that role does not).
  An integration (API key) creates and reads cases, on intake only (the other services accept
  tokens, not keys). Reopening and reclassifying are for admins and supervisors.
- Administration (users, API keys, catalog, audit trail, notification rules and templates,
  other users' deliveries) is for admins; the management reports for admins and supervisors;
  case counts for every role.
- Another tenant's case is 404 for everyone (its existence is not revealed); no credentials 401.

One embedded system (module scope) serves the whole table; each cell is a test id
``<action>-<role>-<own|other>-<tenant|other-tenant>``, and a cell whose action changes the case
gets a case of its own."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import make_settings
from tests.support.system import CASE, TENANT, System, demo, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

OTHER_TENANT = "gas-demo"
# role → the demo user who plays it (None: an API key, or no credentials at all).
ROLES: dict[str, str | None] = {"admin": "admin", "supervisor": "supervisora", "executive": "ejecutiva",
                                "viewer": "lectura", "technical_manager": "gerencia.tecnica", "api_key": None,
                                "anonymous": None}
RESPONSIBLE_ROLES = {"admin", "supervisor", "executive", "technical_manager"}  # "own case" means something
OTHER_RESPONSIBLE = "ejecutivo"  # whose case is "another's" (an executor none of the roles plays)
ADMINS = {"admin"}
MANAGERS = {"admin", "supervisor"}
USERS = {"admin", "supervisor", "executive", "viewer", "technical_manager"}
STAFF = {"admin", "supervisor", "executive", "technical_manager"}  # comment and mail on any case


# -- what the procedures say ------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    name: str
    service: str
    method: str
    path: str  # {case}, {work_order}, {user}: filled from the cell's objects
    ok: int
    allowed: Callable[[str, bool], bool]  # (role, own case) → may do it
    body: Any = None
    needs: str = "case"  # case | finished | work_order | synced (known to every service) | none
    changes: bool = False  # the cell gets objects of its own
    keys_elsewhere: bool = False  # on workflow/notifier/reporting: an API key is not a credential there


def everyone(role: str, own: bool) -> bool:
    return True


def users(role: str, own: bool) -> bool:
    return role in USERS


def staff(role: str, own: bool) -> bool:
    return role in STAFF


def acts_on_case(role: str, own: bool) -> bool:
    """R4.4: admins and supervisors on every case; executors (technical managers too) on their own."""
    return role in MANAGERS or (role in ("executive", "technical_manager") and own)


def managers(role: str, own: bool) -> bool:
    return role in MANAGERS


def admins(role: str, own: bool) -> bool:
    return role in ADMINS


def technical_manager(role: str, own: bool) -> bool:
    return role == "technical_manager"  # R2.5


def creates_cases(role: str, own: bool) -> bool:
    return role != "viewer"  # admins, supervisors, executors (their project), integrations


def task_body(responsible_id: str) -> dict[str, Any]:
    return {"title": "Revisar humedad", "responsible_id": responsible_id, "due_date": date.today().isoformat()}


CASE_ACTIONS = [
    Action("case-read", "intake", "GET", "/cases/{case}", 200, everyone),
    Action("case-history", "intake", "GET", "/cases/{case}/history", 200, everyone),
    Action("case-comment", "intake", "POST", "/cases/{case}/comments", 201, staff,
           {"text": "Llamé al cliente."}, changes=True),
    Action("case-mail", "intake", "POST", "/cases/{case}/mails", 202, staff,
           {"subject": "Su solicitud", "body": "Le escribimos por su solicitud."}, changes=True),
    Action("case-execute", "intake", "POST", "/cases/{case}/execute", 200, acts_on_case,
           {"text": "Se envió la copia."}, changes=True),
    Action("case-finish", "intake", "POST", "/cases/{case}/finish", 200, acts_on_case,
           {"outcome": "success", "comment": "Entregada."}, changes=True),
    Action("case-reopen", "intake", "POST", "/cases/{case}/reopen", 200, managers,
           {"text": "El cliente no recibió la copia."}, needs="finished", changes=True),
    Action("case-assign", "intake", "POST", "/cases/{case}/assign", 200, acts_on_case,
           {"responsible_id": "{other_responsible}"}, changes=True),
    Action("case-priority", "intake", "POST", "/cases/{case}/priority", 200, acts_on_case,
           {"priority": "low"}, changes=True),
    Action("case-reclassify", "intake", "POST", "/cases/{case}/reclassify", 200, managers,
           {"type": "reclamo-no-tecnico"}, changes=True),
    Action("case-task-create", "intake", "POST", "/cases/{case}/tasks", 201, acts_on_case,
           "task", changes=True),
    Action("case-tasks-read", "intake", "GET", "/cases/{case}/tasks", 200, everyone),
    Action("work-order-approve", "intake", "POST", "/work-orders/{work_order}/approve", 200, technical_manager,
           {"comment": "Proceda."}, needs="work_order", changes=True),
    Action("workflow-deadline", "workflow", "GET", "/deadlines/{case}", 200, users, needs="synced",
           keys_elsewhere=True),
    Action("notifier-case-deliveries", "notifier", "GET", "/cases/{case}/deliveries", 200, users, needs="synced",
           keys_elsewhere=True),
]

ELSEWHERE: dict[str, Any] = {"needs": "none", "keys_elsewhere": True}  # tenant-wide, not on intake
TENANT_ACTIONS = [
    Action("case-create", "intake", "POST", "/cases", 201, creates_cases, "case", needs="none", changes=True),
    Action("inbox", "intake", "GET", "/inbox", 200, everyone, needs="none"),
    Action("inbox-export", "intake", "GET", "/inbox/export?format=csv", 200, everyone, needs="none"),
    Action("tasks", "intake", "GET", "/tasks?mine=false", 200, everyone, needs="none"),
    Action("catalog-read", "intake", "GET", "/catalog/channels", 200, everyone, needs="none"),
    Action("catalog-write", "intake", "POST", "/catalog/channels", 201, admins,
           {"code": "canal-{n}", "name_es": "Canal", "name_en": "Channel"}, needs="none", changes=True),
    Action("users-list", "intake", "GET", "/users", 200, everyone, needs="none"),
    Action("users-admin", "intake", "POST", "/users", 201, admins,
           {"email": "nuevo-{n}@example.cl", "name": "Nueva Persona", "roles": ["viewer"]}, needs="none",
           changes=True),
    Action("api-keys-admin", "intake", "POST", "/api-keys", 201, admins, {"name": "Importador {n}"},
           needs="none", changes=True),
    Action("audit", "intake", "GET", "/audit", 200, admins, needs="none"),
    Action("notifier-templates", "notifier", "GET", "/notification-templates", 200, admins, **ELSEWHERE),
    Action("notifier-rules", "notifier", "GET", "/notification-rules", 200, admins, **ELSEWHERE),
    Action("notifier-ledger", "notifier", "GET", "/deliveries?user_id={user}", 200, admins, **ELSEWHERE),
    Action("notifier-my-deliveries", "notifier", "GET", "/deliveries/mine", 200, users, **ELSEWHERE),
    Action("reports-case-counts", "reporting", "GET", "/reports/case-counts", 200, users, **ELSEWHERE),
    Action("reports-sla", "reporting", "GET", "/reports/sla-compliance", 200, managers, **ELSEWHERE),
    Action("reports-retention", "reporting", "GET", "/reports/retention-commissions", 200, managers, **ELSEWHERE),
]


def expected(action: Action, role: str, own: bool, same_tenant: bool) -> int:
    if role == "anonymous" or (role == "api_key" and action.keys_elsewhere):
        return 401
    if not same_tenant:
        return 404  # another tenant's case or work order: not revealed
    return action.ok if action.allowed(role, own) else 403


def cells() -> list[Any]:
    out = []
    for action, role in itertools.product(CASE_ACTIONS, ROLES):
        for own, same in ((True, True), (False, True), (False, False)):
            if own and role not in RESPONSIBLE_ROLES:
                continue
            cid = f"{action.name}-{role}-{'own' if own else 'other'}-{'tenant' if same else 'other-tenant'}"
            out.append(pytest.param(action, role, own, same, id=cid))
    for action, role in itertools.product(TENANT_ACTIONS, ROLES):
        out.append(pytest.param(action, role, False, True, id=f"{action.name}-{role}"))
    return out


# -- the system and the objects cells act on ----------------------------------------------------------
class Matrix:
    def __init__(self, system: System) -> None:
        self.s = system
        self.headers: dict[str, dict[str, str]] = {}
        self.user_ids: dict[tuple[str, str], str] = {}
        self.shared: dict[tuple[str, str, str], dict[str, str]] = {}
        self.n = 0

    async def setup(self) -> None:
        s = self.s
        for role, local in ROLES.items():
            if local is not None:
                self.headers[role] = await s.auth(local)
        r = await s.intake.post("/api-keys", json={"name": "Integración"}, headers=await s.auth("admin"))
        assert r.status_code == 201, r.text
        self.headers["api_key"] = {"X-API-Key": r.json()["key"]}
        self.headers["anonymous"] = {}
        r = await s.intake.post("/catalog/case-types", headers=await s.auth("admin", OTHER_TENANT), json={
            "code": CASE["type"], "name_es": "Consulta general", "deadline": {"unit": "business_days", "amount": 5}})
        assert r.status_code == 201, r.text  # the other tenant files the same kind of case
        for tenant in (TENANT, OTHER_TENANT):
            listed = (await s.intake.get("/users", params={"limit": 200}, headers=await s.auth("admin", tenant))).json()
            self.user_ids.update({(tenant, u["email"]): u["id"] for u in listed["items"]})

    def user_id(self, local: str, tenant: str = TENANT) -> str:
        return self.user_ids[(tenant, demo(local, tenant))]

    async def case(self, responsible: str, tenant: str) -> dict[str, str]:
        s = self.s
        r = await s.intake.post("/cases", json={**CASE, "responsible_email": demo(responsible, tenant)},
                                headers=await s.auth("admin", tenant))
        assert r.status_code == 201, r.text
        return {"case": r.json()["id"]}

    async def objects(self, action: Action, responsible: str, tenant: str) -> dict[str, str]:
        """What the cell's path and body refer to, in a state where the action can succeed."""
        key = (action.needs, responsible, tenant)
        if not action.changes and key in self.shared:
            return self.shared[key]
        s, admin = self.s, await self.s.auth("admin", tenant)
        made = await self.case(responsible, tenant)
        if action.needs == "finished":
            r = await s.intake.post(f"/cases/{made['case']}/finish", json={"outcome": "success", "comment": "Ok."},
                                    headers=admin)
            assert r.status_code == 200, r.text
        elif action.needs == "work_order":
            r = await s.intake.post(f"/cases/{made['case']}/tasks", json=task_body(self.user_id(responsible, tenant)),
                                    headers=admin)
            assert r.status_code == 201, r.text
            r = await s.intake.post(f"/tasks/{r.json()['id']}/work-order", json={"description": "Cambio de empalme."},
                                    headers=admin)
            assert r.status_code == 201, r.text
            made["work_order"] = r.json()["id"]
        elif action.needs == "synced":  # workflow and notifier have heard of the case
            for svc, path in (("workflow", "/deadlines/{}"), ("notifier", "/cases/{}/deliveries")):
                async def known(svc: str = svc, path: str = path) -> bool:
                    return (await s.clients[svc].get(path.format(made["case"]), headers=admin)).status_code == 200
                await wait_for(known, 20, f"{svc} knows the case")
        self.shared[key] = made
        return made

    async def call(self, action: Action, role: str, own: bool, same_tenant: bool) -> Any:
        tenant = TENANT if same_tenant else OTHER_TENANT
        responsible = ROLES[role] if own else OTHER_RESPONSIBLE
        assert responsible is not None
        made = {} if action.needs == "none" else await self.objects(action, responsible, tenant)
        self.n += 1
        fill = {**made, "user": self.user_id("ejecutiva"), "n": str(self.n),
                "other_responsible": self.user_id("supervisora")}
        body = action.body
        if body == "task":
            body = task_body(self.user_id("ejecutiva"))
        elif body == "case":
            body = CASE
        elif isinstance(body, dict):
            body = {k: v.format(**fill) if isinstance(v, str) else v for k, v in body.items()}
        return await self.s.clients[action.service].request(action.method, action.path.format(**fill), json=body,
                                                            headers=self.headers[role])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Matrix]:
    data: Path = tmp_path_factory.mktemp("matrix") / "var"
    system = await System(make_settings(database_url="", amqp_url="", data_dir=data, smtp_host="")).start()
    m = Matrix(system)
    await m.setup()
    yield m
    await system.stop()




@pytest.mark.parametrize(("action", "role", "own", "same_tenant"), cells())
async def test_r4_4_authorisation_matrix(matrix: Matrix, action: Action, role: str, own: bool,
                                         same_tenant: bool) -> None:
    """R4.4 (with R2.5): the status one role gets for one action on its own or another's case, in
    its tenant or another's."""
    want = expected(action, role, own, same_tenant)
    r = await matrix.call(action, role, own, same_tenant)
    assert r.status_code == want, f"{action.method} {action.path} as {role}: {r.status_code} {r.text[:300]}"
    if want >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
