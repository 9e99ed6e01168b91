"""POST /supplies/import (R2.1) tells every data row's outcome, not only the refused ones:
``rows`` lists each row in the file's order as created, updated, unchanged or refused (with the
reasons, which ``errors`` still lists as before: the response is extended compatibly). The
console's import screen shows that outcome row by row."""

from __future__ import annotations

import re

import httpx

from services.intake.seed import DEMO_PASSWORD
from tests.support.system import System, demo
from tests.test_console import console  # noqa: F401  (fixture)

GAS = "gas-demo"
CSV = ("external_id;name;party_national_id;party_name;tariff\n"
       "RW-1;Medidor Uno;7.654.321-6;Rosa Pizarro;BT-1\n"
       "RW-2;Medidor Dos;15614076-4;Fogón Ltda.;AT-2\n"
       "RW-3;Medidor Tres;;;BT-1\n")


async def test_r2_1_each_rows_outcome_is_listed_created_updated_unchanged_or_refused(embedded_system: System) -> None:
    s = embedded_system
    h = {**await s.auth("admin", GAS), "Content-Type": "text/csv"}
    first = (await s.intake.post("/supplies/import", content=CSV.encode(), headers=h)).json()
    assert [(r["row"], r["external_id"], r["outcome"]) for r in first["rows"]] == [
        (1, "RW-1", "created"), (2, "RW-2", "refused"), (3, "RW-3", "created")]
    [reason] = first["rows"][1]["reasons"]
    assert reason["field"] == "party_national_id" and reason["code"] == "invalid_national_id"
    assert first["errors"] == [{**reason, "row": 2, "external_id": "RW-2"}]  # the old list, unchanged
    again = CSV.replace("Medidor Tres", "Medidor Tres (renombrado)")
    second = (await s.intake.post("/supplies/import", content=again.encode(), headers=h)).json()
    assert [r["outcome"] for r in second["rows"]] == ["unchanged", "refused", "updated"]
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 1, 1)


async def test_r2_1_the_console_shows_every_rows_outcome(embedded_system: System, console: httpx.AsyncClient) -> None:  # noqa: F811
    r = await console.post("/console/login", data={"tenant": GAS, "email": demo("admin", GAS), "password": DEMO_PASSWORD})
    assert r.status_code == 303
    shown = await console.post("/console/supplies/import", files={"file": ("s.csv", CSV.encode(), "text/csv")},
                               headers={"HX-Request": "true"})
    assert shown.status_code == 200
    outcomes = re.findall(r'data-row="(\d+)" data-outcome="(\w+)"', shown.text)
    assert outcomes == [("1", "created"), ("2", "refused"), ("3", "created")]
    assert "creado" in shown.text and "rechazado" in shown.text and "party_national_id" in shown.text
