"""R4.10: the inbox as a download — CSV (UTF-8 with BOM, ';' for Spanish) and XLSX, the same rows
in the same order as ``GET /inbox`` for the same parameters, labels and headers in the caller's
language, export jobs with progress and a download any replica can serve, and one audit line per
download. R4.4 / R2.7: every role that reads the inbox may export it, restricted parties are left
out as the inbox leaves them out, another tenant's cases never appear; jobs are their owner's."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import insert, select

from services.intake.adapters import export_writers as writers
from services.intake.adapters.export_tables import export_jobs
from services.intake.domain import inbox_export as rules
from tests.support.system import System, case_body, demo, wait_for
from tests.test_inbox import _load

SCL = ZoneInfo("America/Santiago")
EVERY = ["new", "in_execution", "waiting_on_customer", "finished_success", "finished_failure"]
COL = {c.key: i for i, c in enumerate(rules.COLUMNS)}


# -- pure rules ------------------------------------------------------------------------------------
def test_r4_10_overdue_text_labels_and_csv_guard() -> None:
    assert rules.overdue_text(3 * 86400 + 4 * 3600 + 59) == "3 d 4 h"
    assert rules.overdue_text(5 * 3600 + 20 * 60) == "5 h 20 min"
    assert rules.overdue_text(59) == "0 min"
    labels = {"atencion": ("Atención", "Service"), "atencion/consultas": ("Consultas", "Enquiries")}
    assert rules.category_label(["atencion", "consultas", "general"], labels, 0) == "Atención / Consultas / general"
    assert rules.category_label(None, labels, 1) == ""
    clocks = [{"kind": "resolution", "cycle": 1, "state": "breached"}, {"kind": "resolution", "cycle": 2,
                                                                         "state": "running"},
              {"kind": "first_response", "state": "met"}]
    assert rules.clock_states(clocks) == {"resolution": "running", "first_response": "met"}
    assert rules.default_separator("es") == ";" and rules.default_separator("en") == ","
    assert writers.neutralize("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert writers.neutralize("@SUM(A1)") == "'@SUM(A1)" and writers.neutralize("-2+3") == "'-2+3"
    assert writers.neutralize("+56 9 1234 5678") == "+56 9 1234 5678"
    assert writers.neutralize("Héctor") == "Héctor"


async def test_r4_10_xlsx_rows_past_a_sheet_continue_on_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sheet holds 1,048,576 rows (here 3, header included): the rest go on "Bandeja (2)"."""
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 3)

    async def pages() -> Any:
        yield [["1", datetime(2026, 12, 3, 9, 30)], ["2", None]]
        yield [["3", 1.5]]

    data = b"".join([chunk async for chunk in writers.xlsx_stream(["N°", "Fecha"], pages(), "Bandeja")])
    book = load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["Bandeja", "Bandeja (2)"]
    first, second = ([list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets)
    assert first == [["N°", "Fecha"], ["1", datetime(2026, 12, 3, 9, 30)], ["2", None]]
    assert second == [["N°", "Fecha"], ["3", 1.5]]
    book.close()


# -- helpers ---------------------------------------------------------------------------------------
async def _inbox(s: System, user: str = "admin", **params: Any) -> list[dict[str, Any]]:
    """Every row of GET /inbox, paging through it (two rows a page)."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await s.intake.get("/inbox", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
                               headers=await s.auth(user))
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


def read_csv(content: bytes, separator: str) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the accents
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=separator))


def read_xlsx(content: bytes) -> list[list[Any]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    rows = [["" if v is None else v for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return rows


async def _export(s: System, user: str = "admin", fmt: str = "csv", lang: str | None = None,
                  **params: Any) -> list[list[Any]]:
    headers = {**await s.auth(user), **({"Accept-Language": lang} if lang else {})}
    r = await s.intake.get("/inbox/export", params={**params, "format": fmt}, headers=headers)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    if fmt == "xlsx":
        return read_xlsx(r.content)
    return read_csv(r.content, ";" if lang != "en" else ",")


def _local(iso: str | None) -> str:
    return datetime.fromisoformat(iso).astimezone(SCL).strftime("%Y-%m-%d %H:%M") if iso else ""


async def assert_export_equals_inbox(s: System, user: str = "admin", **params: Any) -> list[dict[str, Any]]:
    """R4.10: both formats list the inbox's rows, in its order, with its values."""
    items = await _inbox(s, user, **params)
    for fmt in ("csv", "xlsx"):
        rows = await _export(s, user, fmt, **params)
        assert rows[0] == rules.headers("es")
        body = rows[1:]
        assert [r[COL["number"]] for r in body] == [x["number"] for x in items], (fmt, params)
        for row, item in zip(body, items, strict=True):
            assert row[COL["contact"]] == item["contact"]["name"]
            assert row[COL["contact_email"]] == item["contact"]["email"]
            assert row[COL["contact_phone"]] == (item["contact"]["phone"] or "")
            assert row[COL["responsible"]] == item["responsible"]["email"]
            created = row[COL["created_at"]]
            shown = created.strftime("%Y-%m-%d %H:%M") if isinstance(created, datetime) else created
            assert shown == _local(item["created_at"])  # the tenant's wall clock, no zone
            assert (row[COL["overdue"]] != "") == item["overdue"]
    return items


# -- through the API -------------------------------------------------------------------------------
@pytest.mark.integration
async def test_r4_10_exports_equal_the_inbox_list_for_several_filters(rabbit_system: System) -> None:
    s = rabbit_system
    k = await _load(s)
    admin = await s.auth("admin")
    party = (await s.intake.post("/parties", headers=admin, json={
        "kind": "owner", "name": "Rosa Valdés", "national_id": "10.359.182-1"})).json()["id"]
    held = await s.create_case(case_body(7, party_id=party, subject="Consulta de la propietaria"))

    async def deadline_set() -> bool:  # its place in the default order depends on it
        return (await s.intake.get(f"/cases/{held['id']}", headers=admin)).json()["deadline"] is not None

    await wait_for(deadline_set, what="the new case's deadline")
    assert [x["id"] for x in await assert_export_equals_inbox(s)][0] == k[4]["id"]  # default view, overdue first
    assert [x["id"] for x in await assert_export_equals_inbox(s, q="hector nunez")] == [k[0]["id"]]
    assert [x["id"] for x in await assert_export_equals_inbox(s, q="10359182-1")] == [held["id"]]  # a RUT
    assert len(await assert_export_equals_inbox(s, status=["new", "finished_success"], type="documentacion")) == 2
    assert len(await assert_export_equals_inbox(s, sort="-created", status=EVERY)) == 6
    assert [x["id"] for x in await assert_export_equals_inbox(s, priority="high")] == [k[1]["id"]]
    assert [x["id"] for x in await assert_export_equals_inbox(s, overdue="true")] == [k[4]["id"]]
    await assert_export_equals_inbox(s, "lectura", sort="priority")  # a viewer exports what it reads (R4.4)
    # Labels in the caller's language; the SLA states as workflow told them.
    rows = await _export(s, status=EVERY, sort="created")
    first = rows[1]
    assert first[COL["type"]] == "Consulta general" and first[COL["status"]] == "nueva"
    assert first[COL["priority"]] == "normal" and first[COL["channel"]] != "telefono"
    assert first[COL["category"]].count(" / ") == 2
    assert first[COL["due_at"]] == _local(k[0]["deadline"]["due_at"])
    assert first[COL["sla_resolution"]] in ("en curso", "con aviso")
    finished = rows[3]
    assert finished[COL["status"]] == "finalizada con éxito" and finished[COL["finished_at"]] != ""
    overdue = next(r for r in rows[1:] if r[COL["number"]] == k[4]["number"])
    assert overdue[COL["overdue"]].startswith("1 d") and float(overdue[COL["overdue_hours"]].replace(",", ".")) >= 24
    # Time passes (workflow's timers mark the cases overdue): still the inbox's rows, and the lateness grows.
    # 60 days: the latest due date (up to ~3 weeks away over the year-end holidays) is then a month past.
    s.travel_to(datetime.now(UTC) + timedelta(days=60))

    async def all_overdue() -> bool:
        return len(await _inbox(s, overdue="true")) == 4

    await wait_for(all_overdue, 30, "every open case overdue")
    items = await assert_export_equals_inbox(s, overdue="true")
    xlsx = await _export(s, "admin", "xlsx", overdue="true")
    assert [r[COL["number"]] for r in xlsx[1:]] == [x["number"] for x in items]
    assert all(isinstance(r[COL["overdue_hours"]], int | float) and r[COL["overdue_hours"]] > 24 * 30 for r in xlsx[1:])
    assert all(isinstance(r[COL["created_at"]], datetime) for r in xlsx[1:])  # spreadsheet datetimes


@pytest.mark.integration
async def test_r4_10_bom_separator_languages_and_bad_parameters(rabbit_system: System) -> None:
    s = rabbit_system
    await s.create_case(case_body(1, contact={"name": "=HYPERLINK(\"http://x\")", "email": "c1@example.cl"}))
    admin = await s.auth("admin")
    r = await s.intake.get("/inbox/export", headers=admin)
    assert r.headers["content-type"].startswith("text/csv") and r.content.startswith(b"\xef\xbb\xbf")
    assert r.content[3:].split(b"\r\n")[0].decode() == ";".join(rules.headers("es"))  # es: ';'
    assert read_csv(r.content, ";")[1][COL["contact"]] == "'=HYPERLINK(\"http://x\")"  # never run as a formula
    r = await s.intake.get("/inbox/export", headers={**admin, "Accept-Language": "en"})
    en = read_csv(r.content, ",")
    assert en[0] == rules.headers("en") and en[0][0] == "Case number"
    assert en[1][COL["type"]] == "General enquiry" and en[1][COL["status"]] == "new"
    r = await s.intake.get("/inbox/export", params={"separator": "comma"}, headers=admin)
    assert read_csv(r.content, ",")[0][:3] == ["N° solicitud", "Tipo", "Categoría"]
    r = await s.intake.get("/inbox/export", params={"format": "xlsx"}, headers={**admin, "Accept-Language": "en"})
    assert r.headers["content-type"] == writers.XLSX_MEDIA_TYPE
    book = read_xlsx(r.content)
    assert book[0] == rules.headers("en") and book[1][COL["contact"]] == "=HYPERLINK(\"http://x\")"  # a string
    # Bad parameters: 422 problems naming each field; the page is not an export parameter.
    r = await s.intake.get("/inbox/export", params={"limit": "10", "cursor": "x", "count": "true", "format": "pdf",
                                                    "separator": "tab", "status": "open"}, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert {"limit", "cursor", "count", "format", "separator", "status.0"} <= {e["field"] for e in r.json()["errors"]}
    r = await s.intake.get("/inbox/export", params={"format": "xlsx", "separator": "comma", "q": "ab",
                                                    "responsible": "bob"}, headers=admin)
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["q", "responsible.0", "separator"]
    r = await s.intake.post("/inbox/exports", json={"format": "csv", "limit": 5}, headers=admin)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["limit"]
    r = await s.intake.post("/inbox/exports", json={"q": "ab", "responsible": ["bob"]}, headers=admin)
    assert r.status_code == 422
    assert {(e["field"], e["pointer"]) for e in r.json()["errors"]} == {("q", "#/body/q"),
                                                                       ("responsible.0", "#/body/responsible/0")}
    assert (await s.intake.get("/inbox/export")).status_code == 401


@pytest.mark.integration
async def test_r4_4_r2_7_exports_show_only_what_the_caller_may_see(rabbit_system: System) -> None:
    s = rabbit_system
    admin = await s.auth("admin")
    r = await s.intake.post("/parties", headers=admin, json={"kind": "owner", "name": "Rosa Valdés",
                                                             "national_id": "10.359.182-1", "restricted": True})
    hidden = await s.create_case(case_body(7, party_id=r.json()["id"], subject="Consulta reservada"))
    shown = await s.create_case(case_body(8))
    gas = await s.create_case(case_body(9, type="gestion-cobranza", channel="telefono", project="medidor",
                                        responsible_email=demo("ejecutiva", "gas-demo")), tenant="gas-demo")
    numbers = {"hidden": hidden["number"], "shown": shown["number"]}
    # R2.7: a restricted party's cases are out of a non-shared user's export, in both formats.
    for fmt in ("csv", "xlsx"):
        assert [x[0] for x in (await _export(s, "ejecutivo", fmt))[1:]] == [numbers["shown"]]
        assert {x[0] for x in (await _export(s, "admin", fmt))[1:]} == set(numbers.values())
        assert [x[0] for x in (await _export(s, "ejecutivo", fmt, q="10359182-1"))[1:]] == []
    # Another tenant's export never lists these cases, nor ours theirs.
    r = await s.intake.get("/inbox/export", params={"status": EVERY}, headers=await s.auth("admin", "gas-demo"))
    assert r.status_code == 200 and [x[0] for x in read_csv(r.content, ";")[1:]] == [gas["number"]]
    r = await s.intake.get("/inbox/export", params={"status": EVERY, "format": "xlsx"}, headers=admin)
    assert sorted(x[0] for x in read_xlsx(r.content)[1:]) == sorted(numbers.values())
    # An integration's API key may export directly; jobs need a user.
    key = (await s.intake.post("/api-keys", json={"name": "ERP"}, headers=admin)).json()["key"]
    r = await s.intake.get("/inbox/export", headers={"X-API-Key": key})
    listed = (await s.intake.get("/inbox", headers={"X-API-Key": key})).json()["items"]
    assert r.status_code == 200 and [x[0] for x in read_csv(r.content, ";")[1:]] == [x["number"] for x in listed]
    assert [x["number"] for x in listed] == [numbers["shown"]]  # the restricted party is not shared with it
    r = await s.intake.post("/inbox/exports", json={}, headers={"X-API-Key": key})
    assert r.status_code == 403
    assert (await s.intake.get("/inbox/exports", headers={"X-API-Key": key})).status_code == 403


async def _job_done(s: System, job: dict[str, Any], user: str = "admin") -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def done() -> bool:
        r = await s.intake.get(f"/inbox/exports/{job['id']}", headers=await s.auth(user))
        assert r.status_code == 200, r.text
        seen.update(r.json())
        return bool(seen["state"] in ("done", "failed"))

    await wait_for(done, 30, "the export job")
    return seen


@pytest.mark.integration
async def test_r4_10_export_jobs_progress_download_owner_and_audit(rabbit_system: System,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    s = rabbit_system
    monkeypatch.setattr(writers, "CHUNK", 512)  # small chunks: the file spans many export_files rows
    made = [await s.create_case(case_body(i)) for i in range(7)]
    admin = await s.auth("admin")

    async def settled() -> bool:  # workflow has set every deadline and clock: the rows stop changing
        for m in made:
            if not (await s.intake.get(f"/cases/{m['id']}/sla", headers=admin)).json()["clocks"] or \
                    (await s.intake.get(f"/cases/{m['id']}", headers=admin)).json()["deadline"] is None:
                return False
        return True

    await wait_for(settled, 30, "deadlines and clocks")
    direct = await s.intake.get("/inbox/export", params={"sort": "-created"}, headers=admin)
    r = await s.intake.post("/inbox/exports", json={"sort": "-created"}, headers=admin)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running", "done") and job["rows_total"] == 7 and job["format"] == "csv"
    assert job["separator"] == ";"
    done = await _job_done(s, job)
    assert done["state"] == "done" and done["rows_done"] == done["rows_total"] == 7
    assert done["download_url"] == f"/inbox/exports/{job['id']}/download" and done["size_bytes"] > 512 * 3
    r = await s.intake.get(done["download_url"], headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content == direct.content  # the job's file is the direct export
    # XLSX, English.
    r = await s.intake.post("/inbox/exports", json={"format": "xlsx", "status": EVERY},
                            headers={**admin, "Accept-Language": "en"})
    xjob = await _job_done(s, r.json())
    xfile = await s.intake.get(xjob["download_url"], headers=admin)
    book = read_xlsx(xfile.content)
    assert book[0] == rules.headers("en") and [x[0] for x in book[1:]] == [x["number"] for x in await _inbox(s)]
    # The caller's jobs, newest first, paged.
    r = await s.intake.get("/inbox/exports", params={"limit": 1}, headers=admin)
    assert [x["id"] for x in r.json()["items"]] == [xjob["id"]]
    r = await s.intake.get("/inbox/exports", params={"limit": 1, "cursor": r.json()["next_cursor"]}, headers=admin)
    assert [x["id"] for x in r.json()["items"]] == [job["id"]] and r.json()["next_cursor"] is None
    # Only the owner sees or downloads a job: another user, another tenant's admin get 404.
    for other in (await s.auth("supervisora"), await s.auth("admin", "gas-demo")):
        assert (await s.intake.get(f"/inbox/exports/{job['id']}", headers=other)).status_code == 404
        assert (await s.intake.get(done["download_url"], headers=other)).status_code == 404
        assert (await s.intake.get("/inbox/exports", headers=other)).json()["items"] == []
    # A job left running by a process that died is failed when read; a download of it is 409.
    stale = uuid.uuid4()
    async with s.rt["intake"].db.engine.begin() as conn:
        row = (await conn.execute(select(export_jobs).where(export_jobs.c.id == uuid.UUID(job["id"])))).one()
        old = datetime.now(UTC) - timedelta(hours=1)
        await conn.execute(insert(export_jobs), {**row._asdict(), "id": stale, "state": "running", "rows_done": 3,
                                                 "heartbeat_at": old, "created_at": old, "finished_at": None})
    r = await s.intake.get(f"/inbox/exports/{stale}", headers=admin)
    assert r.json()["state"] == "failed" and r.json()["error"].startswith("interrupted")
    r = await s.intake.get(f"/inbox/exports/{stale}/download", headers=admin)
    assert r.status_code == 409 and r.json()["state"] == "failed"
    # Every download is an audit line: format, filters, rows; admins only read the trail.
    r = await s.intake.get("/audit", params={"action": "inbox.exported"}, headers=admin)
    assert r.status_code == 200, r.text
    lines = r.json()["items"]
    assert [x["details"]["format"] for x in lines] == ["xlsx", "csv", "csv"]
    assert lines[0]["details"]["job_id"] == xjob["id"] and lines[0]["details"]["rows"] == 7
    assert lines[1]["details"] == {"format": "csv", "separator": ";", "filters": {"sort": "-created"}, "rows": 7,
                                   "complete": True, "job_id": job["id"]}
    assert lines[2]["details"]["rows"] == 7 and "job_id" not in lines[2]["details"]
    assert lines[0]["actor"]["email"] == demo("admin")
    r = await s.intake.get("/audit", params={"limit": 1}, headers=admin)
    assert len(r.json()["items"]) == 1 and r.json()["next_cursor"]
    for who in ("supervisora", "ejecutivo", "lectura"):
        r = await s.intake.get("/audit", headers=await s.auth(who))
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert (await s.intake.get("/audit", headers=await s.auth("admin", "gas-demo"))).json()["items"] == []


@pytest.mark.integration
async def test_r4_10_export_in_embedded_mode(embedded_system: System) -> None:
    """SQLite (embedded): the same rows in both formats, and a job to the end."""
    s = embedded_system
    made = [await s.create_case(case_body(i)) for i in range(3)]
    admin = await s.auth("admin")

    async def deadlines_set() -> bool:  # a row's place in the default order depends on its deadline
        cases = [(await s.intake.get(f"/cases/{m['id']}", headers=admin)).json() for m in made]
        return all(c["deadline"] is not None for c in cases)

    await wait_for(deadlines_set, 30, "the cases' deadlines")
    await assert_export_equals_inbox(s, sort="-created")
    await assert_export_equals_inbox(s, q="hector contreras")
    job = (await s.intake.post("/inbox/exports", json={"format": "xlsx"}, headers=admin)).json()
    done = await _job_done(s, job)
    assert done["state"] == "done" and done["rows_done"] == 3
    rows = read_xlsx((await s.intake.get(done["download_url"], headers=admin)).content)
    assert [x[0] for x in rows[1:]] == [x["number"] for x in await _inbox(s)]
