"""A case's life: states, the actions that move it, and the priority policy. Plain Python.

States (R4.5, R4.6): new → in_execution → finished_success | finished_failure; reopen (admin or
supervisor, with a reason) brings a finished case back to in_execution. ``waiting_on_customer``
is the pause a later issue will use to stop SLA clocks. R1.4: revert (a case of a hold type,
only while it is on hold) ends it as finished_failure with the outcome "reverted" and a reason;
it is not in ``TRANSITIONS`` (the inbox's generic action lists) because it depends on the hold.

Priority (R0.3–R0.5): a case starts at its type's priority (normal unless the type pins another,
R3.2); creating one as urgent is refused; raising it needs a reason from a list (customer called
again, came to the branch again, other with text); lowering needs none; each change is history
and an event whose recipients follow the new level (R0.4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    IN_EXECUTION = "in_execution"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    FINISHED_SUCCESS = "finished_success"
    FINISHED_FAILURE = "finished_failure"


IN_PROGRESS = (Status.NEW, Status.IN_EXECUTION, Status.WAITING_ON_CUSTOMER)  # R4.5 default inbox view
FINISHED = (Status.FINISHED_SUCCESS, Status.FINISHED_FAILURE)

# What a person reads for a state (refusal texts never show the raw code).
STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.NEW: ("nueva", "new"),
    Status.IN_EXECUTION: ("en ejecución", "in execution"),
    Status.WAITING_ON_CUSTOMER: ("en espera del cliente", "waiting on the customer"),
    Status.FINISHED_SUCCESS: ("finalizada con éxito", "finished (success)"),
    Status.FINISHED_FAILURE: ("finalizada sin éxito", "finished (no success)"),
}


class Action(StrEnum):
    EXECUTE = "execute"
    WAIT = "wait"
    RESUME = "resume"
    FINISH_SUCCESS = "finish_success"
    FINISH_FAILURE = "finish_failure"
    REOPEN = "reopen"
    REVERT = "revert"  # R1.4: only while the case is on hold (see ``CONDITIONAL``)


# action → (states it may be taken from, state it leads to)
TRANSITIONS: dict[Action, tuple[tuple[Status, ...], Status]] = {
    Action.EXECUTE: ((Status.NEW, Status.IN_EXECUTION, Status.WAITING_ON_CUSTOMER), Status.IN_EXECUTION),
    Action.WAIT: ((Status.NEW, Status.IN_EXECUTION), Status.WAITING_ON_CUSTOMER),
    Action.RESUME: ((Status.WAITING_ON_CUSTOMER,), Status.IN_EXECUTION),
    Action.FINISH_SUCCESS: (IN_PROGRESS, Status.FINISHED_SUCCESS),
    Action.FINISH_FAILURE: (IN_PROGRESS, Status.FINISHED_FAILURE),
    Action.REOPEN: (FINISHED, Status.IN_EXECUTION),
}
# Actions allowed only under a further condition the caller checks (R1.4: the hold window); not
# listed among a state's allowed actions.
CONDITIONAL: dict[Action, tuple[tuple[Status, ...], Status]] = {
    Action.REVERT: (IN_PROGRESS, Status.FINISHED_FAILURE),
}
REVERTED = "reverted"  # R1.4: the outcome of a reverted case (status finished_failure)


class IllegalTransition(Exception):
    def __init__(self, action: Action, status: Status) -> None:
        super().__init__(f"{action} not allowed in {status}")
        self.action = action
        self.status = status
        self.allowed = allowed_actions(status)


def allowed_actions(status: Status) -> list[Action]:
    return [a for a, (sources, _) in TRANSITIONS.items() if status in sources]


def next_status(status: Status, action: Action) -> Status:
    sources, target = TRANSITIONS[action] if action in TRANSITIONS else CONDITIONAL[action]
    if status not in sources:
        raise IllegalTransition(action, status)
    return target


ACTION_LABELS: dict[Action, tuple[str, str]] = {
    Action.EXECUTE: ("ejecutar", "execute"), Action.WAIT: ("esperar al cliente", "wait on the customer"),
    Action.RESUME: ("reanudar", "resume"), Action.FINISH_SUCCESS: ("finalizar con éxito", "finish with success"),
    Action.FINISH_FAILURE: ("finalizar sin éxito", "finish without success"), Action.REOPEN: ("reabrir", "reopen"),
    Action.REVERT: ("revertir", "revert"),
}


def illegal_transition_text(exc: IllegalTransition) -> tuple[str, str]:
    """The refusal's detail in words (es, en): the state and the actions possible, as labels."""
    es, en = STATUS_LABELS[exc.status]
    allowed_es = ", ".join(ACTION_LABELS[a][0] for a in exc.allowed) or "ninguna"
    allowed_en = ", ".join(ACTION_LABELS[a][1] for a in exc.allowed) or "none"
    return (f"La solicitud está {es}; acciones posibles: {allowed_es}.",
            f"The case is {en}; allowed actions: {allowed_en}.")


def clears_overdue(action: Action) -> bool:
    """R4.8: the overdue alert ends when the case is executed or finished. A reopened case stays
    clear until workflow's re-armed timer says it is overdue again. ``overdue`` means exactly
    ``overdue_since`` is set, in the case resource and in the inbox alike."""
    return action in (Action.EXECUTE, Action.FINISH_SUCCESS, Action.FINISH_FAILURE, Action.REVERT)


# -- priority -------------------------------------------------------------------------------------
class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}
PRIORITY_LABELS: dict[Priority, tuple[str, str]] = {
    Priority.LOW: ("baja", "low"), Priority.NORMAL: ("normal", "normal"), Priority.HIGH: ("alta", "high"),
    Priority.URGENT: ("urgente", "urgent")}


class RaiseReason(StrEnum):
    """R0.4: the only reasons to speed a case up."""

    CUSTOMER_CALLED_AGAIN = "customer_called_again"
    CAME_TO_BRANCH_AGAIN = "came_to_branch_again"
    OTHER = "other"


class PriorityRefused(Exception):
    def __init__(self, code: str, message: tuple[str, str]) -> None:
        super().__init__(message[1])
        self.code = code
        self.message = message


def initial_priority(requested: Priority | None, type_default: Priority = Priority.NORMAL) -> Priority:
    """R0.3: created at the type's priority (normal unless pinned, R3.2); never created urgent."""
    if requested == Priority.URGENT:
        raise PriorityRefused("urgent_on_create", (
            "Ninguna solicitud puede crearse con prioridad urgente: créela normal y suba la prioridad "
            "con un motivo si el cliente insiste.",
            "No case may be created as urgent: create it normal and raise the priority with a reason "
            "if the customer insists."))
    if requested is not None and requested != type_default:
        raise PriorityRefused("priority_on_create", (
            f"Las solicitudes de este tipo se crean con prioridad {PRIORITY_LABELS[type_default][0]}.",
            f"Cases of this type are created with priority {type_default.value}."))
    return type_default


@dataclass(frozen=True)
class PriorityChange:
    old: Priority
    new: Priority
    raised: bool
    reason: RaiseReason | None
    reason_text: str | None
    notify: tuple[str, ...]  # who is told (R0.4), resolved to people by notifier


def change_priority(old: Priority, new: Priority, reason: RaiseReason | None, reason_text: str | None) -> PriorityChange:
    """R0.4: raising needs a reason (and text for "other"); lowering needs none."""
    if new == old:
        raise PriorityRefused("same_priority", ("La solicitud ya tiene esa prioridad.", "The case already has that priority."))
    raised = RANK[new] > RANK[old]
    if raised and reason is None:
        raise PriorityRefused("reason_required", (
            "Para subir la prioridad indique el motivo (el cliente volvió a llamar, volvió a la sucursal u otro).",
            "Raising the priority needs a reason (customer called again, came to the branch again, or other)."))
    if raised and reason == RaiseReason.OTHER and not (reason_text or "").strip():
        raise PriorityRefused("reason_text_required", ("Describa el motivo.", "Describe the reason."))
    return PriorityChange(old, new, raised, reason if raised else None, (reason_text or None) if raised else None,
                          notification_scheme(new) if raised else ())


def notification_scheme(level: Priority) -> tuple[str, ...]:
    """R0.4: who is told when a case reaches a level: high → the responsible and their manager;
    urgent → also the area head."""
    if level == Priority.URGENT:
        return ("responsible", "manager", "area_head")
    if level == Priority.HIGH:
        return ("responsible", "manager")
    return ("responsible",)
