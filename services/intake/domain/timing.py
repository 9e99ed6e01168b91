"""What intake decides about time itself (issue 10). Plain Python: no I/O. workflow owns every
clock; these are the rules on what it published.

R1.4: a case with a hold is executable only from ``executable_from``; executing earlier is
refused (the executive may still revert it: finishing is not refused). Reverting (the case ends
as finished_failure, outcome "reverted", with a reason) is allowed only while the case is on hold;
after ``executable_from`` it is refused naming the date. A type is a hold type when its SLA
policy has ``hold_business_days`` (Operations executes those, R4.4: see access.py).

R4.8: an alert is for the case's responsible and the admins. Admins and supervisors (who act on
every case, R4.4) see every alert of the tenant; anyone else sees the alerts of the cases they
are responsible for now (a reassigned case's alert follows the case). A viewer (read-only) is
never told to act, so sees only those of cases they are responsible for: in practice none.

Reclassifying a case (changing its type, hence its SLA policy) is a supervisor's or an admin's
decision (R4.4: they act on every case; R3: the typified kinds pin fields an agent must not
escape by retyping)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.intake.domain.access import Principal, Role


def sees_all_alerts(p: Principal) -> bool:
    return p.has(Role.ADMIN, Role.SUPERVISOR)


def may_reclassify(p: Principal) -> bool:
    return p.has(Role.ADMIN, Role.SUPERVISOR)


def on_hold(executable_from: datetime | None, now: datetime) -> bool:
    """R1.4: executing now is refused."""
    return executable_from is not None and now < executable_from


def is_hold_type(sla: dict[str, Any] | None) -> bool:
    """R1.4: the type's cases wait (its SLA policy has ``hold_business_days``)."""
    return bool((sla or {}).get("hold_business_days"))


def hold_over_texts(day: date) -> tuple[tuple[str, str], tuple[str, str]]:
    """R1.4: reverting after the window: (title, detail), each ("es", "en"), naming the date."""
    return (("El plazo para revertir terminó", "The window to revert is over"),
            (f"La solicitud pudo revertirse sólo hasta antes del {day.strftime('%d-%m-%Y')}, cuando pasó a ser "
             "ejecutable (R1.4); no se cambió nada.",
             f"The case could be reverted only before {day.isoformat()}, when it became executable (R1.4); "
             "nothing was changed."))


NO_HOLD = (("La solicitud no está en espera", "The case is not on hold"),
           ("Sólo se revierte una solicitud en su plazo de espera (R1.4); esta no tiene uno. No se cambió nada.",
            "Only a case within its waiting period is reverted (R1.4); this one has none. Nothing was changed."))


def hold_texts(day: date) -> tuple[tuple[str, str], tuple[str, str]]:
    """R1.4's refusal: (title, detail), each ("es", "en"), naming the date."""
    return (("La solicitud aún no puede ejecutarse", "The case cannot be executed yet"),
            (f"La solicitud solo puede ejecutarse desde el {day.strftime('%d-%m-%Y')} (R1.4); no se cambió nada.",
             f"The case may only be executed from {day.isoformat()} (R1.4); nothing was changed."))


def overdue_seconds(due_at: datetime | None, now: datetime) -> int:
    """How late an alert is at ``now`` (wall-clock seconds, never negative)."""
    if due_at is None:
        return 0
    return max(0, int((now - due_at).total_seconds()))
