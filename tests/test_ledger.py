"""The delivery ledger's per-user view (issue 11 item 7): ``GET /deliveries/mine`` shows what
notifier sent to the caller (e-mail to their address, SMS to their mobile), newest first and
paged; ``GET /deliveries?user_id=`` shows one user's to an admin of the same tenant only."""

from __future__ import annotations

from typing import Any

from tests.support.system import TENANT, System, case_body, demo, wait_for

OTHER_TENANT = "gas-demo"


async def _user_id(s: System, local: str, tenant: str = TENANT) -> str:
    r = await s.intake.get("/auth/me", headers=await s.auth(local, tenant))
    assert r.status_code == 200, r.text
    return str(r.json()["user_id"])


async def _mine(s: System, local: str, tenant: str = TENANT, **params: Any) -> dict[str, Any]:
    r = await s.clients["notifier"].get("/deliveries/mine", params=params, headers=await s.auth(local, tenant))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_my_deliveries_show_what_was_sent_to_me_only(rabbit_system: System) -> None:
    s = rabbit_system
    notifier = s.clients["notifier"]
    first = await s.create_case(case_body(1))
    second = await s.create_case(case_body(2))
    cases = {first["id"], second["id"]}

    async def both_arrived() -> bool:
        return cases <= {d["case_id"] for d in (await _mine(s, "ejecutiva"))["items"]}

    await wait_for(both_arrived, 30, "the responsible's e-mails in her ledger")
    items = [d for d in (await _mine(s, "ejecutiva"))["items"] if d["case_id"] in cases]
    assert {d["recipient"] for d in items} == {demo("ejecutiva")}
    assert {d["channel"] for d in items} == {"email"} and {d["recipient_role"] for d in items} == {"responsible"}
    # Newest first (which case's e-mail was planned first depends on the events' arrival).
    assert [d["created_at"] for d in items] == sorted((d["created_at"] for d in items), reverse=True)
    assert all(isinstance(d["history"], list) for d in items)

    # Paged like every list: one per page, no repeats.
    page1 = await _mine(s, "ejecutiva", limit=1)
    assert len(page1["items"]) == 1 and page1["next_cursor"]
    page2 = await _mine(s, "ejecutiva", limit=1, cursor=page1["next_cursor"])
    assert page2["items"][0]["id"] != page1["items"][0]["id"]
    bad = await notifier.get("/deliveries/mine", params={"cursor": "nope"}, headers=await s.auth("ejecutiva"))
    assert bad.status_code == 422

    # Another user of the tenant does not see it; nor does a user of another tenant.
    assert not cases & {d["case_id"] for d in (await _mine(s, "ejecutivo"))["items"]}
    assert not cases & {d["case_id"] for d in (await _mine(s, "admin", OTHER_TENANT))["items"]}

    # An admin reads one user's list; others may not; another tenant's admin gets 404.
    her = await _user_id(s, "ejecutiva")
    r = await notifier.get("/deliveries", params={"user_id": her}, headers=await s.auth("admin"))
    assert r.status_code == 200, r.text
    assert cases <= {d["case_id"] for d in r.json()["items"]}
    assert all(d["recipient"] == demo("ejecutiva") or d["channel"] == "sms" for d in r.json()["items"])
    r = await notifier.get("/deliveries", params={"user_id": her}, headers=await s.auth("ejecutivo"))
    assert r.status_code == 403
    r = await notifier.get("/deliveries", params={"user_id": her}, headers=await s.auth("admin", OTHER_TENANT))
    assert r.status_code == 404
    r = await notifier.get("/deliveries/mine")
    assert r.status_code == 401
