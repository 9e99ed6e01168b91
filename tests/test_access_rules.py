"""R4.4 as pure rules: every role × action × own/other case (no I/O)."""

from __future__ import annotations

import uuid

import pytest

from services.intake.domain.access import CaseAction, Principal, Role, can_act_on_case, can_create_case, can_see_party

ME, OTHER = uuid.uuid4(), uuid.uuid4()
OTHERS_ALLOWED = {CaseAction.READ, CaseAction.HISTORY, CaseAction.COMMENT, CaseAction.SEND_MAIL}


def p(*roles: Role, projects: tuple[str, ...] = ()) -> Principal:
    return Principal(tenant="t", roles=frozenset(roles), user_id=ME, projects=frozenset(projects))


@pytest.mark.parametrize("action", list(CaseAction))
def test_r4_4_admin_acts_on_every_case(action: CaseAction) -> None:
    expected = action != CaseAction.APPROVE_WORK_ORDER  # approval is the technical manager's (R2.5)
    assert can_act_on_case(p(Role.ADMIN), action, responsible_id=OTHER) is expected


@pytest.mark.parametrize("action", list(CaseAction))
def test_r4_4_executor_on_others_cases_only_mails_comments_and_reads(action: CaseAction) -> None:
    assert can_act_on_case(p(Role.EXECUTOR), action, responsible_id=OTHER) is (action in OTHERS_ALLOWED)


@pytest.mark.parametrize("action", list(CaseAction))
def test_r4_4_executor_acts_on_own_cases_but_does_not_reopen(action: CaseAction) -> None:
    expected = action not in (CaseAction.REOPEN, CaseAction.APPROVE_WORK_ORDER)
    assert can_act_on_case(p(Role.EXECUTOR), action, responsible_id=ME) is expected


@pytest.mark.parametrize("action", list(CaseAction))
def test_viewer_only_reads(action: CaseAction) -> None:
    assert can_act_on_case(p(Role.VIEWER), action, responsible_id=ME) is (action in {CaseAction.READ,
                                                                                      CaseAction.HISTORY})


def test_supervisor_acts_and_reopens_but_does_not_approve_work_orders() -> None:
    assert can_act_on_case(p(Role.SUPERVISOR), CaseAction.REOPEN, responsible_id=OTHER)
    assert not can_act_on_case(p(Role.SUPERVISOR), CaseAction.APPROVE_WORK_ORDER, responsible_id=OTHER)
    assert can_act_on_case(p(Role.TECHNICAL_MANAGER), CaseAction.APPROVE_WORK_ORDER, responsible_id=OTHER)


def test_r4_4_executor_creates_only_in_the_projects_of_their_profile() -> None:
    executor = p(Role.EXECUTOR, projects=("medidor",))
    assert can_create_case(executor, "medidor")
    assert not can_create_case(executor, "granel")
    assert can_create_case(p(Role.ADMIN), "granel") and can_create_case(p(Role.SUPERVISOR), "granel")
    assert not can_create_case(p(Role.VIEWER), None)
    assert can_create_case(Principal(tenant="t", roles=frozenset({Role.INTEGRATION})), "granel")


def test_r2_7_restricted_party_is_seen_by_shared_users_and_admins_only() -> None:
    assert can_see_party(p(Role.EXECUTOR), restricted=False, shared_with=frozenset())
    assert not can_see_party(p(Role.EXECUTOR), restricted=True, shared_with=frozenset({OTHER}))
    assert can_see_party(p(Role.EXECUTOR), restricted=True, shared_with=frozenset({ME}))
    assert can_see_party(p(Role.ADMIN), restricted=True, shared_with=frozenset())
