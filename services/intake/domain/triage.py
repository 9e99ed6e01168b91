"""Follow-ups (R3.1) and the decision table the contact center applies before filing one
(R3.3–R3.5), as the gas distributor's procedure (seed 003) states it. Plain Python: no I/O.

R3.3: before a follow-up the agent checks the original's maximum response date, whether the area
already answered, and the earlier follow-ups. R3.4 turns those facts into one of eight outcomes
(original request = O; its latest late-response or disagreement follow-up = F):

  1. O unanswered, within deadline              → tell the customer O's maximum response date
  2. O answered, customer unaware               → tell the customer the answer
  3. O unanswered, past deadline                → a late-response follow-up
  4. O answered, customer disagrees             → a disagreement follow-up
  5. O answered + F unanswered, within deadline → tell the customer F's maximum response date
  6. O unanswered + F answered                  → escalate to the supervisor; no new request
  7. O answered or not + F unanswered, past deadline → escalate to the supervisor; no new request
  8. O answered + F answered, customer still disagrees → escalate to the supervisor; no new request

The seed's table leaves two combinations open; they are filled the conservative way and say so
(``Decision.extended``):

  - O unanswered + F unanswered, within F's deadline → rule 5 (F's maximum response date): the
    customer already has a follow-up running and waits for it, as in rule 5;
  - O answered + F answered, customer does not disagree → rule 2 with F's answer (the latest one).

Which kind a follow-up is comes from its case type in the tenant's catalog (``follow_up_kind``),
and which business line a case is on from its project's catalog entry (``business_line``): tenant
data, not constants here.

R3.5: who files the follow-up of rules 3 and 4 depends on the business line: meter customers file
it themselves (self-service, the "Sucursal Virtual"); for packaged and bulk gas the agent files it.
A case whose line is unknown is filed by the agent (the procedure's default since its revision:
"Contact Center podrá crear los requerimientos")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.intake.domain.lifecycle import FINISHED


class FollowUpKind(StrEnum):
    """R3.1: what a follow-up is about (canonical names; tenants name their case types freely)."""

    LATE_RESPONSE = "late_response"  # Respuesta fuera de plazo
    DISAGREEMENT = "disagreement"  # Inconformidad en la respuesta
    SOLUTION_NOT_EXECUTED = "solution_not_executed"  # No ejecución de la solución
    DELAY_ENABLING_SERVICE = "delay_enabling_service"  # Demora en la habilitación del servicio
    DELAY_RECONNECTING_SUPPLY = "delay_reconnecting_supply"  # Tardanza en la reposición del suministro
    COLLECTIONS_MANAGEMENT = "collections_management"  # Gestión de cobranza


# The follow-ups the decision table looks at (its "F"): late response and disagreement.
TABLE_KINDS = (FollowUpKind.LATE_RESPONSE, FollowUpKind.DISAGREEMENT)


def kind_of(value: str | None) -> FollowUpKind | None:
    """A follow-up kind as the catalog stores it (``case_types.follow_up_kind``, copied to the
    case filed with it); None for no kind or a value this version does not know."""
    try:
        return FollowUpKind(value) if value else None
    except ValueError:
        return None


class BusinessLine(StrEnum):
    """R3.5: the gas distributor's business lines."""

    METER = "meter"  # Gas medidor (piped, metered)
    PACKAGED = "packaged"  # Gas envasado (cylinders)
    BULK = "bulk"  # Gas granel (tank refills)


def business_line_of(value: str | None) -> BusinessLine | None:
    """A project's business line as the tenant's catalog stores it (``projects.business_line``)."""
    try:
        return BusinessLine(value) if value else None
    except ValueError:
        return None


class Filer(StrEnum):
    CUSTOMER = "customer"  # self-service
    AGENT = "agent"


def who_files(line: BusinessLine | None) -> Filer:
    """R3.5: meter customers file follow-ups themselves; packaged and bulk: the agent does."""
    return Filer.CUSTOMER if line == BusinessLine.METER else Filer.AGENT


# -- the facts (R3.3) -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseFacts:
    """What R3.3 checks on one case: has the area answered, and its maximum response date."""

    answered: bool
    due_at: datetime | None  # None: the deadline is not computed yet (counts as within it)
    created_at: datetime | None = None
    kind: FollowUpKind | None = None

    def past_deadline(self, now: datetime) -> bool:
        """"Past deadline" is about an unanswered case: its maximum response date has gone by."""
        return not self.answered and self.due_at is not None and now > self.due_at


def is_answered(status: str, answered_at: datetime | None) -> bool:
    """The area answered: the case was executed at least once (answered_at), or it is finished."""
    return answered_at is not None or status in FINISHED


def table_follow_up(follow_ups: Sequence[CaseFacts]) -> CaseFacts | None:
    """R3.4's F: the latest late-response or disagreement follow-up (others do not count)."""
    relevant = [f for f in follow_ups if f.kind in TABLE_KINDS]
    if not relevant:
        return None
    return max(enumerate(relevant), key=lambda iv: (iv[1].created_at is not None, iv[1].created_at, iv[0]))[1]


# -- the decision (R3.4, R3.5) --------------------------------------------------------------------
class Action(StrEnum):
    TELL_DEADLINE = "tell_deadline"
    TELL_ANSWER = "tell_answer"
    CREATE_FOLLOW_UP = "create_follow_up"
    ESCALATE_TO_SUPERVISOR = "escalate_to_supervisor"


class About(StrEnum):
    """Whose deadline or answer the agent gives: the original's or the follow-up's."""

    ORIGINAL = "original"
    FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class Decision:
    rule: int  # 1..8, as numbered in R3.4
    action: Action
    about: About | None = None  # for tell_deadline / tell_answer
    follow_up_kind: FollowUpKind | None = None  # for create_follow_up
    filed_by: Filer | None = None  # for create_follow_up (R3.5)
    new_request_allowed: bool = True  # rules 6, 7, 8: never suggest another request
    extended: bool = False  # a combination the seed's table leaves open (see the module's doc)


def decide(original: CaseFacts, follow_up: CaseFacts | None, *, customer_disagrees: bool, now: datetime,
           business_line: BusinessLine | None = None) -> Decision:
    """Apply R3.4 (and R3.5 for who files) to O and its latest late/disagreement follow-up F.

    ``customer_disagrees``: the customer knows the area's (latest) answer and does not agree with
    it. When the area has answered and the customer does not disagree, the customer is taken not
    to know the answer (rule 2: read it to them)."""
    if follow_up is not None:
        if follow_up.answered:
            if not original.answered:
                return Decision(6, Action.ESCALATE_TO_SUPERVISOR, new_request_allowed=False)
            if customer_disagrees:
                return Decision(8, Action.ESCALATE_TO_SUPERVISOR, new_request_allowed=False)
            return Decision(2, Action.TELL_ANSWER, About.FOLLOW_UP, extended=True)
        if follow_up.past_deadline(now):
            return Decision(7, Action.ESCALATE_TO_SUPERVISOR, new_request_allowed=False)
        return Decision(5, Action.TELL_DEADLINE, About.FOLLOW_UP, extended=not original.answered)
    if original.answered:
        if customer_disagrees:
            return Decision(4, Action.CREATE_FOLLOW_UP, follow_up_kind=FollowUpKind.DISAGREEMENT,
                            filed_by=who_files(business_line))
        return Decision(2, Action.TELL_ANSWER, About.ORIGINAL)
    if original.past_deadline(now):
        return Decision(3, Action.CREATE_FOLLOW_UP, follow_up_kind=FollowUpKind.LATE_RESPONSE,
                        filed_by=who_files(business_line))
    return Decision(1, Action.TELL_DEADLINE, About.ORIGINAL)


# -- what the agent reads (es-CL, en) ---------------------------------------------------------------
_KIND_NAMES: dict[FollowUpKind, tuple[str, str]] = {
    FollowUpKind.LATE_RESPONSE: ("respuesta fuera de plazo", "late response"),
    FollowUpKind.DISAGREEMENT: ("inconformidad en la respuesta", "disagreement with the response"),
    FollowUpKind.SOLUTION_NOT_EXECUTED: ("no ejecución de la solución", "solution not carried out"),
    FollowUpKind.DELAY_ENABLING_SERVICE: ("demora en la habilitación del servicio", "delay enabling the service"),
    FollowUpKind.DELAY_RECONNECTING_SUPPLY: ("tardanza en la reposición del suministro", "late supply reconnection"),
    FollowUpKind.COLLECTIONS_MANAGEMENT: ("gestión de cobranza", "collections management"),
}
_ESCALATE = ("Escale el caso al supervisor. No indique al cliente hacer otro requerimiento.",
             "Escalate the case to the supervisor. Do not tell the customer to file another request.")
_WHY_ESCALATE: dict[int, tuple[str, str]] = {
    6: ("La solicitud original sigue sin respuesta y su seguimiento ya fue respondido. ",
        "The original request is still unanswered and its follow-up has been answered. "),
    7: ("El seguimiento está sin respuesta y fuera de plazo. ",
        "The follow-up is unanswered and past its deadline. "),
    8: ("El cliente sigue disconforme con la respuesta del seguimiento. ",
        "The customer still disagrees with the follow-up's answer. "),
}


def message(d: Decision, *, due: str | None = None, number: str | None = None) -> tuple[str, str]:
    """What to tell the customer or do, as the procedure words it (Spanish, English).
    ``due``: the maximum response date to read out; ``number``: the case it belongs to."""
    ref = f" (N° {number})" if number else ""
    ref_en = f" (no. {number})" if number else ""
    if d.action == Action.TELL_DEADLINE:
        if due is None:
            return (f"La solicitud{ref} está dentro de plazo; su fecha máxima de respuesta aún se está calculando.",
                    f"The request{ref_en} is within its deadline; its maximum response date is still being set.")
        whose = ("del seguimiento", "of the follow-up") if d.about == About.FOLLOW_UP else ("", "")
        return (f"Indique al cliente el plazo máximo de respuesta{' ' + whose[0] if whose[0] else ''}{ref}: {due}.",
                f"Tell the customer the maximum response date{' ' + whose[1] if whose[1] else ''}{ref_en}: {due}.")
    if d.action == Action.TELL_ANSWER:
        return (f"El área ya respondió{ref}: lea la respuesta al cliente.",
                f"The area has already answered{ref_en}: read the answer to the customer.")
    if d.action == Action.CREATE_FOLLOW_UP:
        assert d.follow_up_kind is not None
        es, en = _KIND_NAMES[d.follow_up_kind]
        if d.filed_by == Filer.CUSTOMER:
            return (f"Indique al cliente que ingrese él mismo un requerimiento por {es} (autogestión, "
                    f"cliente de gas medidor){ref}.",
                    f"Tell the customer to file a {en} request themselves (self-service, metered gas "
                    f"customer){ref_en}.")
        return (f"Cree un requerimiento de seguimiento por {es}{ref}.", f"File a {en} follow-up{ref_en}.")
    why = _WHY_ESCALATE[d.rule]
    return (why[0] + _ESCALATE[0], why[1] + _ESCALATE[1])


def kind_name(kind: FollowUpKind) -> tuple[str, str]:
    return _KIND_NAMES[kind]


__all__ = ["Action", "BusinessLine", "CaseFacts", "Decision", "Filer", "FollowUpKind", "decide", "is_answered",
           "kind_of", "message", "table_follow_up", "who_files"]
