"""R4.5: saved inbox views per user — ``GET/POST /inbox/views``, ``DELETE /inbox/views/{id}``.
A view is its owner's only (another user, or another tenant, sees a 404); its query is checked
with the inbox's own parameters (a bad one is a 422 naming the parameter); names are unique per user."""

from __future__ import annotations

from tests.support.system import System


async def test_r4_5_saved_views_are_the_owners_only(rabbit_system: System) -> None:
    """On PostgreSQL (the migration's table); the other test runs embedded (SQLite)."""
    s = rabbit_system
    mine, other, foreign = await s.auth("ejecutiva"), await s.auth("supervisora"), await s.auth("admin", "gas-demo")
    r = await s.intake.post("/inbox/views", json={"name": "Urgentes", "query": "priority=urgent&status=new&q="},
                            headers=mine)
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["query"] == "priority=urgent&status=new"  # empty values dropped
    r = await s.intake.get("/inbox", params=view["query"], headers=mine)  # a saved view always opens
    assert r.status_code == 200, r.text

    assert [v["name"] for v in (await s.intake.get("/inbox/views", headers=mine)).json()["items"]] == ["Urgentes"]
    for h in (other, foreign):
        assert (await s.intake.get("/inbox/views", headers=h)).json()["items"] == []
        assert (await s.intake.delete(f"/inbox/views/{view['id']}", headers=h)).status_code == 404
    # the same name is free for another user
    assert (await s.intake.post("/inbox/views", json={"name": "Urgentes", "query": ""}, headers=other)).status_code == 201
    assert (await s.intake.delete(f"/inbox/views/{view['id']}", headers=mine)).status_code == 204
    assert (await s.intake.get("/inbox/views", headers=mine)).json()["items"] == []
    assert (await s.intake.delete(f"/inbox/views/{view['id']}", headers=mine)).status_code == 404


async def test_r4_5_saved_view_validation_duplicate_and_paging(embedded_system: System) -> None:
    s = embedded_system
    h = await s.auth("ejecutiva")
    for query, parameter in (("status=closed", "status"), ("sort=name", "sort"), ("colour=red", "colour"),
                             ("cursor=abc", "cursor"), ("q=a&q=b", "q"), ("due_from=ayer", "due_from")):
        r = await s.intake.post("/inbox/views", json={"name": "Mala", "query": query}, headers=h)
        assert r.status_code == 422, (query, r.text)
        assert [(e["field"], e["parameter"]) for e in r.json()["errors"]] == [("query", parameter)], query
    r = await s.intake.post("/inbox/views", json={"name": " ", "query": ""}, headers=h)
    assert r.status_code == 422
    assert (await s.intake.get("/inbox/views", headers=h)).json()["items"] == []  # nothing stored

    for name in ("C", "A", "B"):
        r = await s.intake.post("/inbox/views", json={"name": name, "query": "sort=-created"}, headers=h)
        assert r.status_code == 201, r.text
    r = await s.intake.post("/inbox/views", json={"name": "A", "query": "overdue=true"}, headers=h)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "name"

    first = (await s.intake.get("/inbox/views", params={"limit": 2}, headers=h)).json()
    rest = (await s.intake.get("/inbox/views", params={"limit": 2, "cursor": first["next_cursor"]}, headers=h)).json()
    assert [v["name"] for v in first["items"] + rest["items"]] == ["A", "B", "C"] and rest["next_cursor"] is None
