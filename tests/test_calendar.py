"""Business-day deadlines (R4.2: the case type carries the deadline rule, in business days;
weekends and national holidays excluded — glossary "Plazo, días hábiles")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.workflow.domain import calendar_for, response_deadline

CL = calendar_for("CL", "America/Santiago")


def test_r4_2_deadline_skips_weekend_and_chilean_national_holidays() -> None:
    # Friday 11 Sept 2026 + 5 business days: 14,15,16,17 count; 18 (Fiestas Patrias) and the weekend don't.
    entered = datetime(2026, 9, 11, 15, 0, tzinfo=UTC)
    dl = response_deadline(entered, 5, CL)
    assert dl.due_date == date(2026, 9, 21)
    assert dl.due_at.isoformat() == "2026-09-21T23:59:59-03:00"


def test_r4_2_case_entered_on_a_weekend_counts_from_monday() -> None:
    assert response_deadline(datetime(2026, 11, 21, 12, tzinfo=UTC), 1, CL).due_date == date(2026, 11, 23)


def test_r4_2_entry_date_is_taken_in_the_tenants_time_zone() -> None:
    # 02:00 UTC on Monday 23 Nov is still Sunday 22 Nov, 23:00, in Santiago (UTC-3 in summer).
    assert response_deadline(datetime(2026, 11, 23, 2, 0, tzinfo=UTC), 1, CL).due_date == date(2026, 11, 23)


def test_r4_2_christmas_and_new_year_are_not_business_days() -> None:
    assert CL.add_business_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert CL.add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_countries_have_their_own_holidays() -> None:
    sv = calendar_for("SV", "America/El_Salvador")
    assert not CL.is_business_day(date(2026, 9, 18))
    assert sv.is_business_day(date(2026, 9, 18))
    assert not sv.is_business_day(date(2026, 9, 15))  # El Salvador's independence day


def test_extra_closed_days_of_a_tenant_are_skipped() -> None:
    cal = calendar_for("CL", "America/Santiago", extra_closed=[date(2026, 11, 23)])
    assert cal.add_business_days(date(2026, 11, 20), 1) == date(2026, 11, 24)


@given(start=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), n=st.integers(0, 40))
def test_r4_2_deadline_is_exactly_n_business_days_later(start: date, n: int) -> None:
    due = CL.add_business_days(start, n)
    assert CL.business_days_between(start, due) == n
    if n > 0:
        assert CL.is_business_day(due) and due > start
        # and not a day earlier
        assert CL.business_days_between(start, due - timedelta(days=1)) == n - 1
    else:
        assert due == start
