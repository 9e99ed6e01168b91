"""SLA clocks in business time (issue 10): calendar arithmetic, clock semantics, the escalation
ladder — pure rules, no I/O. Tests that prove a procedure rule carry its R-code; the anchors'
bugs (GLPI, Zammad) are named by their tracker numbers."""

from __future__ import annotations

import os
import time as systime
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.workflow.domain import calendar_for
from services.workflow.domain import escalation as esc
from services.workflow.domain.clocks import Clock, start_clock
from services.workflow.service_layer.clocks import executable_from, first_response_target, resolution_target

SCL = ZoneInfo("America/Santiago")
LUNCH = {d: [(time(9), time(13)), (time(14), time(18))] for d in range(1, 6)}
CAL = calendar_for("CL", "America/Santiago", hours=LUNCH)  # Mon–Fri 09–13, 14–18
MONDAY_9 = datetime(2026, 11, 2, 9, 0, tzinfo=SCL).astimezone(UTC)  # Monday 2 Nov 2026, 09:00 (UTC-3)
H = 3600


def local(dt: datetime) -> datetime:
    return dt.astimezone(SCL)


# -- calendar arithmetic: properties ----------------------------------------------------------
starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC))
spans = st.integers(min_value=0, max_value=400 * H)


@settings(max_examples=150, deadline=None)
@given(starts, spans)
def test_due_is_never_before_start_and_elapsed_undoes_add(start: datetime, t: int) -> None:
    due = CAL.add(start, t)
    assert due >= start
    assert CAL.elapsed(start, due) == t


@settings(max_examples=100, deadline=None)
@given(starts, spans, spans)
def test_adding_targets_is_monotone(start: datetime, t1: int, t2: int) -> None:
    lo, hi = sorted((t1, t2))
    assert CAL.add(start, lo) <= CAL.add(start, hi)


@settings(max_examples=100, deadline=None)
@given(spans, st.integers(min_value=0, max_value=200 * H), st.integers(min_value=1, max_value=80 * H))
def test_a_pause_of_business_length_p_pushes_the_due_time_by_p(target: int, pause_at: int, wall: int) -> None:
    clock = start_clock("resolution", MONDAY_9, CAL, None, base_due=CAL.add(MONDAY_9, target))
    a = MONDAY_9 + timedelta(seconds=pause_at)
    b = a + timedelta(seconds=wall)
    paused = clock.pause(a).resume(b)
    p = CAL.elapsed(a, b)
    assert CAL.elapsed(clock.base_due, paused.due_at(CAL, b)) == p
    assert paused.due_at(CAL, b) >= clock.due_at(CAL, b)


# -- calendar arithmetic: cases ---------------------------------------------------------------
def test_lunch_break_is_not_working_time() -> None:
    noon = datetime(2026, 11, 2, 12, tzinfo=SCL)
    assert local(CAL.add(noon, 2 * H)) == datetime(2026, 11, 2, 15, tzinfo=SCL)
    assert not CAL.is_working(datetime(2026, 11, 2, 13, 30, tzinfo=SCL))
    assert CAL.elapsed(noon, datetime(2026, 11, 2, 15, tzinfo=SCL)) == 2 * H


def test_a_span_that_uses_up_a_period_ends_at_its_closing() -> None:
    assert local(CAL.add(MONDAY_9, 4 * H)) == datetime(2026, 11, 2, 13, tzinfo=SCL)
    assert local(CAL.add(MONDAY_9, 8 * H)) == datetime(2026, 11, 2, 18, tzinfo=SCL)


def test_chile_dst_end_in_april_and_easter_holidays() -> None:
    """Thu 2 Apr 2026 16:00 (UTC-3) + 4 h: 2 h on Thursday; Good Friday and Holy Saturday are
    holidays; the clocks go back on Sunday 5 Apr; Monday 11:00 is UTC-4."""
    cal = calendar_for("CL", "America/Santiago")
    due = cal.add(datetime(2026, 4, 2, 16, tzinfo=SCL), 4 * H)
    assert local(due) == datetime(2026, 4, 6, 11, tzinfo=SCL)
    assert due == datetime(2026, 4, 6, 15, tzinfo=UTC)
    assert cal.day_off(date(2026, 4, 3)) == ("holiday", "Viernes Santo")


def test_chile_dst_start_in_september() -> None:
    """Fri 4 Sep 2026 17:00 (UTC-4) + 2 h: Monday 7 Sep 10:00 is already UTC-3."""
    cal = calendar_for("CL", "America/Santiago")
    due = cal.add(datetime(2026, 9, 4, 17, tzinfo=SCL), 2 * H)
    assert local(due) == datetime(2026, 9, 7, 10, tzinfo=SCL) and due == datetime(2026, 9, 7, 13, tzinfo=UTC)


def test_a_zone_without_dst() -> None:
    bog = ZoneInfo("America/Bogota")
    cal = calendar_for("CO", "America/Bogota")
    due = cal.add(datetime(2026, 12, 7, 17, tzinfo=bog), 2 * H)  # Tue 8 Dec: La Inmaculada Concepción
    assert due.astimezone(bog) == datetime(2026, 12, 9, 10, tzinfo=bog)
    assert due == datetime(2026, 12, 9, 15, tzinfo=UTC)


def test_year_end_holidays_are_skipped_and_named_in_the_trace() -> None:
    cal = calendar_for("CL", "America/Santiago")
    assert cal.add_business_days(date(2026, 12, 24), 2) == date(2026, 12, 29)
    assert cal.add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    trace = cal.explain(datetime(2026, 12, 24, 9, tzinfo=SCL), datetime(2026, 12, 28, 18, tzinfo=SCL))
    assert [(t.date.day, t.skipped, t.name) for t in trace] == [
        (24, None, None), (25, "holiday", "Navidad"), (26, "weekend", None), (27, "weekend", None), (28, None, None)]
    assert sum((b - a).total_seconds() for t in trace for a, b in t.counted) == 18 * H


def test_extra_closed_and_extra_working_days_and_subdivision_holidays() -> None:
    cal = calendar_for("CL", "America/Santiago", {date(2026, 11, 3): "Inventario"},
                       extra_working=[date(2026, 11, 7)], subdivision="NB")
    assert cal.day_off(date(2026, 11, 3)) == ("closed", "Inventario")
    assert cal.is_business_day(date(2026, 11, 7))  # a Saturday worked
    assert cal.day_off(date(2026, 8, 20))[0] == "holiday"  # type: ignore[index]  # Ñuble's own holiday
    assert calendar_for("CL", "America/Santiago").is_business_day(date(2026, 8, 20))
    assert cal.add_business_days(date(2026, 11, 2), 2) == date(2026, 11, 5)


def test_calendar_validation() -> None:
    with pytest.raises(ValueError):
        calendar_for("CL", "America/Santiago", hours={1: [(time(9), time(13)), (time(12), time(18))]})
    with pytest.raises(ValueError):
        calendar_for("CL", "America/Santiago", hours={8: [(time(9), time(13))]})
    with pytest.raises(ValueError):
        calendar_for("CL", "America/Santiago", hours={1: [(time(13), time(9))]})


def test_glpi_15429_working_hours_are_the_tenants_zone_not_the_servers() -> None:
    before = CAL.add(MONDAY_9, 5 * H)
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    systime.tzset()
    try:
        cal = calendar_for("CL", "America/Santiago", hours=LUNCH)
        assert cal.add(MONDAY_9, 5 * H) == before
        assert local(before) == datetime(2026, 11, 2, 15, tzinfo=SCL)
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        systime.tzset()


# -- clocks -----------------------------------------------------------------------------------
def test_pause_and_resume_add_the_paused_business_time() -> None:
    clock = start_clock("resolution", MONDAY_9, CAL, ("business_hours", 8))
    assert local(clock.due_at(CAL, MONDAY_9)) == datetime(2026, 11, 2, 18, tzinfo=SCL)
    paused = clock.pause(MONDAY_9 + timedelta(hours=1))
    assert paused.state() == "paused" and paused.next_step(CAL, MONDAY_9, []) is None
    resumed = paused.resume(MONDAY_9 + timedelta(hours=3))  # 10:00–12:00: two business hours
    assert resumed.paused_seconds(CAL, MONDAY_9) == 2 * H
    assert local(resumed.due_at(CAL, MONDAY_9)) == datetime(2026, 11, 3, 11, tzinfo=SCL)


def test_glpi_6902_15605_a_new_target_keeps_the_time_already_paused() -> None:
    clock = start_clock("resolution", MONDAY_9, CAL, ("business_hours", 8))
    clock = clock.pause(MONDAY_9 + timedelta(hours=1)).resume(MONDAY_9 + timedelta(hours=3))
    longer = clock.retarget(CAL, ("business_hours", 16))
    assert longer.pauses == clock.pauses and longer.paused_seconds(CAL, MONDAY_9) == 2 * H
    assert local(longer.due_at(CAL, MONDAY_9)) == datetime(2026, 11, 4, 11, tzinfo=SCL)


def test_a_breached_clock_stays_breached_when_retargeted() -> None:
    clock = start_clock("resolution", MONDAY_9, CAL, ("business_hours", 2)).breach(MONDAY_9 + timedelta(hours=2))
    later = clock.retarget(CAL, ("business_days", 5))
    assert later.state() == "breached" and later.breached_at == clock.breached_at


def test_warnings_then_breach_then_the_ladder_in_order() -> None:
    clock = start_clock("resolution", MONDAY_9, CAL, ("business_hours", 8), warn_percents=(50, 75))
    steps = []
    now = MONDAY_9
    for _ in range(3):
        step = clock.next_step(CAL, now, [])
        assert step is not None
        steps.append((local(step[0]).time(), step[1], step[2]))
        at, what, n = step
        clock = clock.warn(n) if what == "warning" else clock.breach(at)
    assert steps == [(time(13), "warning", 50), (time(16), "warning", 75), (time(18), "breach", 0)]
    ladder = esc.ladder_times(CAL, clock.breached_at, esc.DEFAULT_LADDER, urgent=True,  # type: ignore[arg-type]
                              quiet_hours=True, climbs=True)
    assert clock.next_step(CAL, now, ladder)[1:] == ("escalate", 0)  # type: ignore[index]
    clock = clock.escalated(0).escalated(1)
    assert clock.next_step(CAL, now, ladder) == (ladder[2][1], "escalate", 2)


def test_met_or_stopped_clocks_do_nothing_more() -> None:
    clock = start_clock("first_response", MONDAY_9, CAL, ("business_hours", 4))
    assert clock.meet(MONDAY_9 + timedelta(hours=1)).next_step(CAL, MONDAY_9, []) is None
    assert clock.meet(MONDAY_9).state() == "met"


def test_zammad_4353_a_removed_policy_stops_its_escalations() -> None:
    clock = start_clock("first_response", MONDAY_9, CAL, ("business_hours", 1)).breach(MONDAY_9 + timedelta(hours=1))
    ladder = esc.ladder_times(CAL, clock.breached_at, esc.DEFAULT_LADDER, urgent=False,  # type: ignore[arg-type]
                              quiet_hours=True, climbs=True)
    assert clock.next_step(CAL, MONDAY_9, ladder) is not None
    stopped = clock.stop(MONDAY_9 + timedelta(hours=2))
    assert stopped.state() == "stopped" and stopped.next_step(CAL, MONDAY_9, ladder) is None


def test_zammad_5177_first_response_target_is_never_overridden() -> None:
    policy = {"deadline": {"unit": "business_days", "amount": 5},
              "sla": {"first_response": {"unit": "business_hours", "amount": 4},
                      "resolution_by_priority": {"urgent": {"unit": "business_hours", "amount": 8}}}}
    assert first_response_target(policy) == ("business_hours", 4)
    assert resolution_target(policy, "urgent") == ("business_hours", 8)
    assert resolution_target(policy, "normal") == ("business_days", 5)
    assert first_response_target({"deadline": policy["deadline"], "sla": None}) is None


def test_reopening_starts_a_new_cycle() -> None:
    first = start_clock("resolution", MONDAY_9, CAL, ("business_days", 1)).meet(MONDAY_9)
    again = start_clock("resolution", MONDAY_9 + timedelta(days=3), CAL, ("business_days", 1), cycle=first.cycle + 1)
    assert again.cycle == 2 and again.state() == "running"
    assert esc.alert_id("c", "case_overdue", 1) != esc.alert_id("c", "case_overdue", 2)


def test_clock_round_trips_through_storage_and_explains_itself() -> None:
    clock = start_clock("resolution", MONDAY_9, CAL, ("business_hours", 10), warn_percents=(50,))
    clock = clock.pause(MONDAY_9 + timedelta(hours=1))
    assert Clock.from_dict(clock.to_dict()) == clock
    view = clock.view(CAL, MONDAY_9 + timedelta(hours=2))
    assert view["state"] == "paused" and view["paused_seconds"] == H
    # Monday: 09–10 counted, 10–11 paused (as if resumed now), 11–13 and 14–18 counted.
    assert view["trace"][0]["date"] == "2026-11-02" and len(view["trace"][0]["counted"]) == 3


def test_r1_4_a_surrender_is_executable_after_ten_business_days() -> None:
    cal = calendar_for("CL", "America/Santiago")
    ef = executable_from(cal, datetime(2026, 12, 14, 10, tzinfo=SCL), 10)
    # 15–18, 21–24, 28–29 Dec (25 Dec and the weekends skipped): the 10th is Tue 29 Dec, from its opening.
    assert local(ef) == datetime(2026, 12, 29, 9, tzinfo=SCL)


# -- escalation -------------------------------------------------------------------------------
def _u(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


PEOPLE = {_u(1): esc.Person(_u(1), _u(2)), _u(2): esc.Person(_u(2), _u(3)), _u(3): esc.Person(_u(3), None),
          _u(4): esc.Person(_u(4), None, subscriptions=frozenset({"case_overdue"})),
          _u(5): esc.Person(_u(5), None, active=False, subscriptions=frozenset({"case_overdue"})),
          _u(9): esc.Person(_u(9), None, roles=frozenset({"supervisor"}))}


def test_r4_8_r4_9_level_0_tells_the_responsible_and_each_active_subscriber_once() -> None:
    got = esc.recipients_for_level(0, esc.DEFAULT_LADDER, PEOPLE, responsible_id=_u(1), area_head_id=_u(7),
                                   kind="case_overdue")
    assert [(r.user_id, r.reason, r.channels) for r in got] == [
        (_u(1), "responsible", ["email", "in_app"]), (_u(4), "subscriber", ["email"])]


def test_the_ladder_climbs_the_manager_chain_then_the_area_head() -> None:
    def level(n: int, responsible: uuid.UUID = _u(1)) -> list[tuple[uuid.UUID, str]]:
        return [(r.user_id, r.reason) for r in esc.recipients_for_level(
            n, esc.DEFAULT_LADDER, PEOPLE, responsible_id=responsible, area_head_id=_u(7), kind="case_overdue")]

    assert level(1) == [(_u(2), "manager")]
    assert level(2) == [(_u(3), "manager")]
    assert level(3) == [(_u(7), "area_head")]
    assert level(2, responsible=_u(2)) == [(_u(7), "area_head")]  # no manager two steps up: the area head


def test_quiet_hours_hold_email_of_non_urgent_cases_until_working_time() -> None:
    """zammad#4432: no escalation e-mail at midnight for a non-urgent case."""
    midnight = datetime(2026, 11, 2, 23, 59, 59, tzinfo=SCL).astimezone(UTC)
    held = esc.quiet_release(CAL, midnight, ["email"], urgent=False, quiet_hours=True)
    assert local(held) == datetime(2026, 11, 3, 9, tzinfo=SCL)
    assert esc.quiet_release(CAL, midnight, ["email"], urgent=True, quiet_hours=True) == midnight
    assert esc.quiet_release(CAL, midnight, ["in_app"], urgent=False, quiet_hours=True) == midnight
    times = dict(esc.ladder_times(CAL, midnight, esc.DEFAULT_LADDER, urgent=False, quiet_hours=True, climbs=True))
    assert local(times[1]) == datetime(2026, 11, 3, 9, tzinfo=SCL)
    # 4 business hours after the breach is 13:00, the lunch break: the e-mail waits until 14:00.
    assert local(times[2]) == datetime(2026, 11, 3, 14, tzinfo=SCL)


def test_r0_4_a_raise_tells_the_schemes_roles_but_not_the_raiser() -> None:
    got = esc.priority_raise_recipients(["responsible", "manager", "area_head"], PEOPLE, responsible_id=_u(1),
                                        area_head_id=_u(7), by=_u(2))
    assert [(r.user_id, r.reason) for r in got] == [(_u(1), "responsible"), (_u(7), "area_head")]


def test_r3_4_the_supervisor_is_the_areas_head_else_the_tenants_supervisors() -> None:
    assert [r.user_id for r in esc.supervisor_recipients(PEOPLE, area_head_id=_u(7))] == [_u(7)]
    assert [r.user_id for r in esc.supervisor_recipients(PEOPLE, area_head_id=None)] == [_u(9)]
