"""The agents' console (issue 14) without a browser: it is a client of the public API only (it
imports nothing of services/ or shared/), it speaks Spanish by default and English on request
with dates and numbers in the user's locale, it maps the API's problem documents field by field,
and its buttons follow R4.4. The pages are exercised through the one origin of embedded mode, the
console calling the API with an ASGI transport (the browser flows are test_console_browser.py)."""

from __future__ import annotations

import ast
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from console import i18n
from console.api_client import ApiError
from console.app import create_app
from console.permissions import case_actions, may_create
from services.intake.seed import DEMO_PASSWORD
from shared.one_origin import OneOrigin, service_for
from tests.support.system import TENANT, System, case_body, demo

CONSOLE = Path(__file__).resolve().parents[1] / "console"


def test_the_console_imports_nothing_of_the_services_or_shared() -> None:
    """Whatever the console lacks, the API lacks: no way around it through the code."""
    for path in CONSOLE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("services", "shared", "atiende"), f"{path.name} imports {name}"


def test_htmx_is_vendored_with_its_version() -> None:
    static = {p.name for p in (CONSOLE / "static").iterdir()}
    assert {"htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"} <= static
    templates = "".join(p.read_text(encoding="utf-8") for p in (CONSOLE / "templates").rglob("*.html"))
    assert "https://" not in templates and "unpkg" not in templates  # no CDN


def test_the_one_origin_hands_console_paths_to_the_console() -> None:
    assert service_for("/console") == "console" and service_for("/console/inbox") == "console"
    assert service_for("/consoles") == "intake"


def test_dates_and_numbers_in_the_users_locale() -> None:
    at = datetime(2026, 12, 3, 17, 5, tzinfo=UTC)
    assert i18n.format_datetime(at, "es", "America/Santiago") == "03-12-2026 14:05"
    assert i18n.format_datetime(at, "en", "America/Santiago") == "Dec 3, 2026 14:05"
    assert i18n.format_number(100000, "es") == "100.000" and i18n.format_number(100000, "en") == "100,000"
    assert i18n.format_number(1234.5, "es", 1) == "1.234,5"
    assert i18n.text("es", "inbox.title") == "Bandeja de seguimiento"
    assert i18n.text("en", "inbox.title") == "Case inbox"
    assert i18n.language_of("en-US,en;q=0.9") == "en" and i18n.language_of(None) == "es"


def test_a_problem_document_becomes_messages_per_field() -> None:
    r = httpx.Response(422, json={"type": "https://atiende.example/problems/validation", "title": "Los datos…",
                                  "errors": [{"field": "contact.email", "message": "No es una dirección de correo válida.",
                                              "code": "email_invalid"}]})
    e = ApiError.of(r)
    assert e.status == 422 and e.code == "validation"
    assert e.message_for("contact.email") == e.message_for("contact") == "No es una dirección de correo válida."
    assert e.message_for("subject") is None


def test_R4_4_buttons_follow_the_role_and_the_responsible() -> None:
    me_id = str(uuid.uuid4())
    case = {"responsible": {"id": me_id}, "status": "new",
            "allowed_actions": ["execute", "wait", "finish_success", "finish_failure"]}
    executor = {"user_id": me_id, "roles": ["executor"]}
    colleague = {"user_id": str(uuid.uuid4()), "roles": ["executor"]}
    assert case_actions(executor, case) == ["execute", "pause", "finish", "comment", "mail", "priority", "assign"]
    assert case_actions(colleague, case) == ["comment", "mail"]
    assert case_actions({"user_id": None, "roles": ["viewer"]}, case) == []
    assert "reopen" not in case_actions({"user_id": None, "roles": ["admin"]}, case)  # not from "new"
    finished = {**case, "status": "finished_success", "allowed_actions": ["reopen"]}
    assert case_actions({"user_id": None, "roles": ["supervisor"]}, finished) == ["reopen", "comment", "mail"]
    assert case_actions(executor, finished) == ["comment", "mail"]  # an executor does not reopen
    assert case_actions({"user_id": None, "roles": ["operations"]}, case, hold_type=True) == [
        "execute", "finish", "comment", "mail"]
    assert not may_create({"roles": ["viewer"]}) and may_create({"roles": ["executor"]})


def test_a_lists_count_is_the_apis_total_exact_or_estimated_and_this_pages_rows() -> None:
    """The work lists (tasks, work orders, interactions) show the API's ``total`` of the whole
    list; beyond its bound the API estimates and says so (``total_exact`` false)."""
    from console.web import env

    def count(template: str, lang: str = "es", **found: Any) -> str:
        return env.get_template(template).render(
            t=lambda key, **kw: i18n.text(lang, key, **kw), plural=lambda key, n: i18n.plural(lang, key, n),
            num=lambda n: i18n.format_number(n, lang), query={}, found=found).strip()

    rows = [{}] * 25
    assert count("tasks/_count.html", items=rows, total=40, total_exact=True, next_cursor="c") == (
        "40 tareas · 25 en esta página")
    assert count("work_orders/_count.html", "en", items=rows, total=12000, total_exact=False, next_cursor="c") == (
        "about 12,000 work orders · 25 on this page")
    assert count("interactions/_count.html", items=[{}], total=1, total_exact=True, next_cursor=None) == "1 atención"


# -- the pages, through the one origin of embedded mode -------------------------------------------
@pytest.fixture
async def console(embedded_system: System) -> AsyncIterator[httpx.AsyncClient]:
    apps = {name: rt.app for name, rt in embedded_system.rt.items()}
    api = OneOrigin(apps)
    app = create_app("http://origin", transport=httpx.ASGITransport(app=api))
    origin = OneOrigin({**apps, "console": app})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=origin), base_url="http://origin") as client:
        yield client
    await app.state.api.aclose()


async def _log_in(client: httpx.AsyncClient, local: str = "ejecutiva") -> None:
    r = await client.post("/console/login", data={"tenant": TENANT, "email": demo(local), "password": DEMO_PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/console/inbox", r.text


async def test_without_a_session_every_screen_leads_to_the_log_in(console: httpx.AsyncClient) -> None:
    for path in ("/console/inbox", f"/console/cases/{uuid.uuid4()}", "/console/cases/new", "/console/notifications"):
        r = await console.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next="), path
    r = await console.get("/console/inbox", headers={"HX-Request": "true"})
    assert r.headers["HX-Redirect"].startswith("/console/login")


async def test_R4_5_inbox_in_spanish_then_english(embedded_system: System, console: httpx.AsyncClient) -> None:
    made = await embedded_system.create_case(case_body(7, responsible_email=demo("ejecutiva")))
    await _log_in(console)
    html = (await console.get("/console/inbox")).text
    assert "Bandeja de seguimiento" in html and made["number"] in html and 'lang="es-CL"' in html
    assert "1 solicitud ·" in html
    # A filter the API refuses (a bad status) comes back beside its control, in Spanish.
    bad = await console.get("/console/inbox?status=archived", headers={"HX-Request": "true", "HX-Target": "results"})
    assert bad.status_code == 200 and 'data-field="status"' in bad.text and made["number"] not in bad.text
    # "My cases": the admin is nobody's responsible here.
    await _log_in(console, "admin")
    assert made["number"] not in (await console.get("/console/inbox?responsible=me")).text
    assert made["number"] in (await console.get("/console/inbox")).text
    # English, switched by the user.
    r = await console.post("/console/language", data={"lang": "en", "next": "/console/inbox"})
    assert r.status_code == 303
    html = (await console.get("/console/inbox")).text
    assert "Case inbox" in html and 'lang="en"' in html and "1 case ·" in html


async def test_an_unknown_case_is_the_apis_404_page(console: httpx.AsyncClient) -> None:
    await _log_in(console)
    r = await console.get(f"/console/cases/{uuid.uuid4()}")
    assert r.status_code == 404 and "Solicitud no encontrada" in r.text


async def test_R4_6_mail_and_refusals_in_the_users_language(embedded_system: System, console: httpx.AsyncClient) -> None:
    """Send mail (R4.6) from the case's form; a refusal comes in the user's language, beside its
    field: Spanish by default, English once the user switched."""
    made = await embedded_system.create_case(case_body(5, responsible_email=demo("ejecutiva")))
    await _log_in(console)
    hx = {"HX-Request": "true"}
    bad = await console.post(f"/console/cases/{made['id']}/mail", data={"to": "no-es-correo", "subject": "Hola",
                                                                         "body": "Texto"}, headers=hx)
    assert 'id="mail-to-error"' in bad.text and "No es una dirección de correo válida." in bad.text
    sent = await console.post(f"/console/cases/{made['id']}/mail", data={
        "to": "", "subject": "Documentos pendientes", "body": "Necesitamos su cédula.", "include_details": "on"},
        headers=hx)
    assert sent.status_code == 200 and 'data-kind="mail_requested"' in sent.text and "Documentos pendientes" in sent.text

    await console.post("/console/language", data={"lang": "en", "next": "/console/inbox"})
    refused = await console.post(f"/console/cases/{made['id']}/finish", data={"outcome": "failure"}, headers=hx)
    assert "Say why the case is closed without success." in refused.text and 'aria-invalid="true"' in refused.text


async def test_R4_2_create_refuses_an_unknown_rut_beside_its_field(embedded_system: System,
                                                                   console: httpx.AsyncClient) -> None:
    await _log_in(console)
    form = {"type": "consulta-general", "subject": "Consulta por RUT", "description": "Texto.",
            "contact.name": "Ana Soto", "contact.email": "ana@example.cl", "national_id": "10.359.182-1"}
    r = await console.post("/console/cases/new", data=form)
    assert r.status_code == 200 and 'id="c-national_id-error"' in r.text and "No hay un cliente con ese RUT." in r.text
    # Without it, the API's own refusals beside their fields (a subject too short).
    r = await console.post("/console/cases/new", data={**form, "national_id": "", "subject": "ab"})
    assert 'id="c-subject-error"' in r.text
    me = (await embedded_system.intake.get("/auth/me", headers=await embedded_system.auth("ejecutiva"))).json()
    r = await console.post("/console/cases/new", data={**form, "national_id": "", "responsible_id": me["user_id"]})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/cases/")
