"""Pure rules of accounts and the catalog (no database): logins' lockout (R4.1), roles and
projects as sets and what an admin may not do to themself (R4.4), a follow-up type's kind
(R3.1/R3.5), the category tree (R3.2) and the calendar's checks (R4.2)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

from services.intake.domain import accounts, catalog

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_r4_4_roles_projects_and_subscriptions_are_sets_in_the_order_given() -> None:
    assert accounts.unique(["executor", "viewer", "executor", "viewer"]) == ["executor", "viewer"]
    assert accounts.unique([]) == []


def test_r4_1_repeated_failures_lock_the_account_for_a_while() -> None:
    step = accounts.after_failure(0, NOW, max_failures=3, lock_minutes=15)
    assert step == accounts.LoginAttempt(failed_logins=1, locked_until=None)
    step = accounts.after_failure(2, NOW, max_failures=3, lock_minutes=15)
    assert step.failed_logins == 0 and step.locked_until == NOW + timedelta(minutes=15)
    assert accounts.locked_for(step.locked_until, NOW) == 15 * 60
    assert accounts.locked_for(step.locked_until, NOW + timedelta(minutes=15)) is None
    assert accounts.locked_for(None, NOW) is None
    title, detail = accounts.locked_texts(61)
    assert "2 minuto(s)" in detail[0] and "2 minute(s)" in detail[1]


def test_r4_4_an_admin_may_not_remove_their_own_administration() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    assert accounts.removes_own_administration(me, me, {"roles": ["viewer"]})
    assert accounts.removes_own_administration(me, me, {"active": False})
    assert not accounts.removes_own_administration(me, me, {"roles": ["admin", "viewer"], "name": "x"})
    assert not accounts.removes_own_administration(me, other, {"roles": ["viewer"], "active": False})


def test_r4_4_a_profiles_projects_are_active_projects_of_the_catalog() -> None:
    states = {"a": True, "old": False}
    problems = accounts.project_problems(["a", "typo", "old", "typo"], states)
    assert [(f, code) for f, _, code in problems] == [("projects.1", "unknown_project"),
                                                      ("projects.2", "inactive_project")]
    assert accounts.project_problems(["old"], states, assigned=["old"]) == []  # kept, not added


def test_r3_5_only_a_follow_up_type_names_a_follow_up_kind() -> None:
    assert catalog.follow_up_kind_problem(True, "late_response") is None
    assert catalog.follow_up_kind_problem(False, None) is None
    assert catalog.follow_up_kind_problem(False, "late_response") is not None
    assert "late_response" in catalog.FOLLOW_UP_KINDS and "collections_management" in catalog.FOLLOW_UP_KINDS
    assert catalog.BUSINESS_LINES == ("meter", "packaged", "bulk")


def test_r3_2_category_tree_nests_rows_and_drops_orphans() -> None:
    def row(path: str) -> SimpleNamespace:
        return SimpleNamespace(code=path.rsplit("/", 1)[-1], path=path, level=path.count("/") + 1, name_es=path,
                               name_en=path, active=True)

    roots = catalog.category_tree([row("a"), row("a/b"), row("a/b/c"), row("x/y")])
    assert [r.path for r in roots] == ["a"] and roots[0].children[0].children[0].path == "a/b/c"
    assert catalog.path_prefixes("a/b/c") == ["a", "a/b", "a/b/c"]
    assert catalog.in_subtree("a/b", "a") and not catalog.in_subtree("ab", "a")


def test_r4_2_calendar_problems_field_by_field() -> None:
    problems = catalog.calendar_problems("XX", "Mars/Base", time(18), time(9),
                                         [date(2026, 12, 7), date(2026, 12, 7)])
    assert [(f, code) for f, _, code in problems] == [
        ("country", "unknown_country"), ("timezone", "unknown_timezone"), ("working_hours.end", "end_before_start"),
        ("extra_closed_days.1.date", "duplicate_date")]
    assert catalog.calendar_problems("CL", "America/Santiago", time(9), time(18), []) == []
    assert (date(2026, 9, 18), "Día de la Independencia") in catalog.national_holidays("CL", 2026, "es")
