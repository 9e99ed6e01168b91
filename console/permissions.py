"""Which buttons a user sees (R4.4), from their roles (GET /auth/me) and the case's responsible.

This only decides what to *show*: the API checks every action itself and refuses the rest (the
console has no way around it). It follows services/intake/domain/access.py's rules without
importing them — the console is a client of the public API, nothing more:

- admin and supervisor: every action on every case (reopen included);
- executor / technical manager: on their own case every action but reopen; on a colleague's only
  comment (and mail, and reading);
- operations (R1.4): execute and finish on cases of a hold type, otherwise comment;
- viewer: nothing but reading.

The case's status narrows it further: the API's ``allowed_actions`` says which state changes the
lifecycle allows now."""

from __future__ import annotations

from typing import Any

# Console action → the lifecycle action the API lists in ``allowed_actions`` (None: no state change).
LIFECYCLE = {"execute": "execute", "pause": "wait", "resume": "resume", "finish": "finish_success",
             "reopen": "reopen", "comment": None, "mail": None, "priority": None, "assign": None}
OWN_CASE = {"execute", "pause", "resume", "finish", "comment", "mail", "priority", "assign"}
OTHERS_CASE = {"comment", "mail"}
CREATORS = {"admin", "supervisor", "executor", "technical_manager"}


def role_actions(me: dict[str, Any], case: dict[str, Any], hold_type: bool = False) -> set[str]:
    roles = set(me.get("roles") or [])
    if roles & {"admin", "supervisor"}:
        return set(LIFECYCLE)
    own = me.get("user_id") is not None and str((case.get("responsible") or {}).get("id")) == str(me["user_id"])
    allowed: set[str] = set()
    if roles & {"executor", "technical_manager"}:
        allowed |= OWN_CASE if own else OTHERS_CASE
    if "operations" in roles:
        allowed |= OTHERS_CASE | ({"execute", "finish"} if hold_type else set())
    return allowed


def case_actions(me: dict[str, Any], case: dict[str, Any], hold_type: bool = False) -> list[str]:
    """The actions to offer on ``case``, in the order the page shows them."""
    by_role = role_actions(me, case, hold_type)
    by_state = set(case.get("allowed_actions") or [])
    finished = str(case.get("status", "")).startswith("finished")
    out = []
    for action, lifecycle in LIFECYCLE.items():
        if action not in by_role:
            continue
        if lifecycle is not None and lifecycle not in by_state:
            continue
        if action in ("priority", "assign") and finished:  # nothing to speed up or hand over
            continue
        out.append(action)
    return out


def may_create(me: dict[str, Any]) -> bool:
    return bool(set(me.get("roles") or []) & CREATORS)
