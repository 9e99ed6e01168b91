"""Rules of accounts: logins and their lockout, a user's roles and projects, what an admin may
not do to themself (R4.1, R4.4). Plain Python: no I/O; callers pass what they loaded."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.intake.domain.access import Role
from shared.refusals import Text

# Roles an admin may give (API keys act as ``integration``; no user holds it).
ASSIGNABLE_ROLES = [r.value for r in Role if r != Role.INTEGRATION]

WRONG_CREDENTIALS: Text = ("Correo, contraseña o cliente incorrectos.", "Wrong e-mail, password or tenant.")
SELF_LOCKOUT: Text = ("No puede quitarse a sí mismo la administración.", "You cannot remove your own administration.")
MANAGER_CYCLE: Text = ("La línea jerárquica formaría un ciclo.", "The management line would loop.")
UNKNOWN_MANAGER: Text = ("El jefe indicado no existe en este cliente.", "No such manager in this tenant.")
UNKNOWN_PROJECT: Text = ("No existe un proyecto con ese código en este cliente.",
                         "This tenant has no project with that code.")
INACTIVE_PROJECT: Text = ("El proyecto está inactivo; reactívelo en el catálogo o elija otro.",
                          "That project is inactive; reactivate it in the catalog or pick another.")


def unique(values: Iterable[str]) -> list[str]:
    """A set kept in the order given: roles, projects and subscriptions are sets (no repeats
    stored or returned), shown in the order the admin wrote them."""
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class LoginAttempt:
    """What a failed password does to the account (R4.1: repeated failures lock it for a while)."""

    failed_logins: int
    locked_until: datetime | None


def after_failure(failed_logins: int, now: datetime, *, max_failures: int, lock_minutes: float) -> LoginAttempt:
    failures = failed_logins + 1
    if failures >= max_failures:
        return LoginAttempt(failed_logins=0, locked_until=now + timedelta(minutes=lock_minutes))
    return LoginAttempt(failed_logins=failures, locked_until=None)


def locked_for(locked_until: datetime | None, now: datetime) -> int | None:
    """Seconds the account stays locked (None: not locked)."""
    if locked_until is None or locked_until <= now:
        return None
    return math.ceil((locked_until - now).total_seconds())


def locked_texts(wait_s: int) -> tuple[Text, Text]:
    minutes = math.ceil(wait_s / 60)
    return (("Demasiados intentos fallidos", "Too many failed attempts"),
            (f"La cuenta está bloqueada; intente de nuevo en {minutes} minuto(s).",
             f"The account is locked; try again in {minutes} minute(s)."))


def removes_own_administration(who: uuid.UUID | None, user_id: uuid.UUID, changes: dict[str, Any]) -> bool:
    """An admin may not deactivate themself nor drop their own admin role: the tenant could be
    left without anyone to administer it."""
    if who != user_id:
        return False
    return changes.get("active") is False or ("roles" in changes and Role.ADMIN.value not in changes["roles"])


def project_problems(codes: list[str], states: dict[str, bool], assigned: Iterable[str] = ()
                     ) -> list[tuple[str, Text, str]]:
    """R4.4: an executor creates cases in the projects of their profile, so those must be projects
    of the tenant's catalog (``states``: code → active), active unless already ``assigned`` to the
    user. One problem per bad code, at its first position: (field, text, code)."""
    kept = set(assigned)
    out: list[tuple[str, Text, str]] = []
    for code in unique(codes):
        if code not in states:
            out.append((f"projects.{codes.index(code)}", UNKNOWN_PROJECT, "unknown_project"))
        elif not states[code] and code not in kept:
            out.append((f"projects.{codes.index(code)}", INACTIVE_PROJECT, "inactive_project"))
    return out
