"""The calendar's working days and hours (business-hours deadline rules, R4.2) in workflow's
domain, and the catalog's own rules in intake (R3.2 typified kinds, R0.3 no urgent start). Plain
Python: no services."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain import catalog
from services.workflow.domain import BusinessCalendar, calendar_for, deadline_for

SCL = ZoneInfo("America/Santiago")
CL = calendar_for("CL", "America/Santiago", work_start=time(9), work_end=time(18))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SCL)  # type: ignore[misc]


# -- business hours (R4.2: "the type carries the deadline rule": days or hours) --------------------
def test_r4_2_business_hours_within_one_working_day() -> None:
    dl = deadline_for(local(2026, 11, 23, 10, 0), "business_hours", 4, CL)  # Monday 10:00
    assert dl.due_at == local(2026, 11, 23, 14, 0) and dl.due_date == date(2026, 11, 23)
    assert dl.unit == "business_hours" and dl.amount == 4 and dl.business_days == 0


def test_r4_2_business_hours_carry_over_the_night_and_the_weekend() -> None:
    # Friday 16:00 + 4 h: 2 h on Friday, the weekend is closed, 2 h on Monday from 09:00.
    assert CL.add_business_hours(local(2026, 11, 20, 16, 0), 4) == local(2026, 11, 23, 11, 0)
    # A deadline that uses a day's hours exactly falls at closing, not at the next opening.
    assert CL.add_business_hours(local(2026, 11, 23, 9, 0), 9) == local(2026, 11, 23, 18, 0)


def test_r4_2_business_hours_entered_outside_working_hours_count_from_the_next_opening() -> None:
    assert CL.add_business_hours(local(2026, 11, 23, 7, 30), 1) == local(2026, 11, 23, 10, 0)  # early
    assert CL.add_business_hours(local(2026, 11, 23, 20, 0), 1) == local(2026, 11, 24, 10, 0)  # late
    assert CL.add_business_hours(local(2026, 11, 21, 12, 0), 1) == local(2026, 11, 23, 10, 0)  # Saturday


def test_r4_2_business_hours_skip_national_holidays_and_extra_closed_days() -> None:
    # Thursday 17 Sept 2026, 17:00 + 2 h: 18 and 19 Sept are Chilean holidays, 21 is closed by the tenant.
    cal = calendar_for("CL", "America/Santiago", [date(2026, 9, 21)])
    assert cal.add_business_hours(local(2026, 9, 17, 17, 0), 2) == local(2026, 9, 22, 10, 0)


def test_r4_2_business_hours_follow_the_tenants_working_hours_and_days() -> None:
    gas = calendar_for("CL", "America/Santiago", work_start=time(8, 30), work_end=time(17, 30))
    assert gas.add_business_hours(local(2026, 11, 23, 17, 0), 1) == local(2026, 11, 24, 9, 0)
    saturdays = calendar_for("CL", "America/Santiago", work_days=[1, 2, 3, 4, 5, 6])
    assert saturdays.add_business_hours(local(2026, 11, 20, 17, 0), 2) == local(2026, 11, 21, 10, 0)
    assert saturdays.add_business_days(date(2026, 11, 20), 1) == date(2026, 11, 21)


def test_r4_2_business_hours_across_a_daylight_saving_change_count_real_hours() -> None:
    # Chile sets clocks forward on Saturday 5 Sept 2026 at 24:00 (no working hour is lost): Friday
    # 17:00 + 2 h is Monday 10:00 local either way, 2 working hours apart in real time.
    due = CL.add_business_hours(local(2026, 9, 4, 17, 0), 2)
    assert due == local(2026, 9, 7, 10, 0)
    assert due.utcoffset() != local(2026, 9, 4, 17, 0).utcoffset()


def test_business_days_rule_is_unchanged_by_working_hours() -> None:
    entered = datetime(2026, 9, 11, 15, 0, tzinfo=UTC)
    dl = deadline_for(entered, "business_days", 5, CL)
    assert dl.due_date == date(2026, 9, 21) and dl.due_at.isoformat() == "2026-09-21T23:59:59-03:00"
    with pytest.raises(ValueError):
        deadline_for(entered, "fortnights", 1, CL)


def test_a_calendar_needs_working_days_and_hours_that_end_after_they_start() -> None:
    with pytest.raises(ValueError):
        calendar_for("CL", "America/Santiago", work_days=[])
    with pytest.raises(ValueError):
        calendar_for("CL", "America/Santiago", work_days=[0, 1])
    with pytest.raises(ValueError):
        calendar_for("CL", "America/Santiago", work_start=time(18), work_end=time(9))
    never_open = calendar_for("CL", "America/Santiago", extra_closed=[
        date(2026, 1, 1) + timedelta(days=i) for i in range(3700)])
    with pytest.raises(ValueError):  # stops instead of looping for ever
        never_open.add_business_days(date(2026, 1, 1), 1)


def _working_time(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Working time between two instants, day by day (a slow, obvious reference)."""
    total = timedelta()
    d = a.astimezone(SCL).date()
    while d <= b.astimezone(SCL).date():
        if cal.is_business_day(d):
            lo = max(a, datetime.combine(d, cal.work_start, SCL))
            hi = min(b, datetime.combine(d, cal.work_end, SCL))
            if hi > lo:
                total += hi.astimezone(UTC) - lo.astimezone(UTC)
        d += timedelta(days=1)
    return total


@settings(max_examples=200, deadline=None)
@given(start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)),
       hours=st.integers(1, 60))
def test_r4_2_business_hours_deadline_is_exactly_n_working_hours_later(start: datetime, hours: int) -> None:
    entered = start.replace(tzinfo=UTC)
    due = CL.add_business_hours(entered, hours)
    assert due > entered
    assert _working_time(CL, entered, due) == timedelta(hours=hours)
    local_due = due.astimezone(SCL)
    assert CL.is_business_day(local_due.date()) and CL.work_start < local_due.time() <= CL.work_end


# -- the catalog's rules (intake) --------------------------------------------------------------
def test_r0_3_no_type_starts_a_case_urgent_and_pinned_priority_wins() -> None:
    assert catalog.priority_problem("urgent") is not None
    assert catalog.priority_problem("high") is None and catalog.priority_problem(None) is None
    assert catalog.effective_default_priority(None, None) == ("normal", None)
    assert catalog.effective_default_priority("low", None) == ("low", None)
    assert catalog.effective_default_priority(None, "high") == ("high", None)  # R3.2: pinned high
    assert catalog.effective_default_priority("high", "high") == ("high", None)
    effective, problem = catalog.effective_default_priority("low", "high")
    assert effective is None and problem is not None


def test_r4_2_deadline_rule_ranges() -> None:
    assert catalog.deadline_problem("business_days", 1) is None
    assert catalog.deadline_problem("business_days", 365) is None
    assert catalog.deadline_problem("business_days", 366) is not None
    assert catalog.deadline_problem("business_hours", 0) is not None
    assert catalog.deadline_problem("business_hours", 2000) is None


def test_r3_2_category_paths_have_at_most_three_levels() -> None:
    assert catalog.split_path(" /medidor/cobranza/gestion-cobranza/ ") == ["medidor", "cobranza", "gestion-cobranza"]
    assert catalog.child_path("medidor/cobranza", "gestion-cobranza") == "medidor/cobranza/gestion-cobranza"
    assert catalog.child_path(None, "medidor") == "medidor"
    assert catalog.path_depth_problem(None) is None and catalog.path_depth_problem(2) is None
    assert catalog.path_depth_problem(3) is not None


def test_r3_2_a_typified_kind_refuses_other_channels_projects_and_missing_fields() -> None:
    """R3.2: collections management comes by phone, e-mail or social networks — in person is
    not allowed — and needs the contact's phone and e-mail and a description."""
    row = SimpleNamespace(allowed_channels=["telefono", "correo", "redes-sociales"], projects=["medidor"],
                          required_fields=["contact.phone", "contact.email", "description"])
    rules = catalog.CaseTypeRules.of(row)
    full = ["contact.phone", "contact.email", "description"]
    assert catalog.case_type_problems(rules, channel="telefono", project="medidor", present=full) == []
    problems = catalog.case_type_problems(rules, channel="presencial", project="granel", present=["description"])
    assert [(f, code) for f, _, code in problems] == [
        ("channel", "channel_not_allowed"), ("project", "type_not_in_project"),
        ("contact.phone", "required_by_type"), ("contact.email", "required_by_type")]
    free = catalog.CaseTypeRules.of(SimpleNamespace(allowed_channels=None, projects=None, required_fields=None))
    assert catalog.case_type_problems(free, channel="presencial", project=None) == []


def test_duplicates_are_reported_by_position() -> None:
    assert catalog.duplicates(["a", "b", "a", "c", "b"]) == [2, 4]
