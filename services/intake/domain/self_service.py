"""Customer self-service (R3.5: meter customers file their follow-ups themselves). Plain Python:
no I/O.

A customer finds one request by its number and their national id, reads its status and maximum
response date, and files a late-response or disagreement follow-up. What may be filed is R3.4's
decision (``triage.decide``), read from the customer's side:

- a kind is offered when triage, asked as if the customer filed that kind, says to create exactly
  that follow-up and (R3.5) that the customer files it (metered gas), or says to escalate to the
  supervisor (rules 6–8): the customer's complaint then reaches the supervisor instead, and no new
  request is made;
- rules 1, 2 and 5 (tell the date, tell the answer) and the lines where the agent files (packaged,
  bulk, unknown) offer nothing: the customer reads why.

The texts here speak to the customer (``triage.message`` speaks to the agent). Attempts are
bounded (``MAX_FAILURES`` failed look-ups per client address and per request number in
``WINDOW``): guessing a national id for a known number, or numbers for a known id, stops early."""

from __future__ import annotations

import re
from datetime import date, timedelta

from services.intake.domain import triage
from services.intake.domain.numbering import format_case_number
from shared.rate_limits import Limit

# The two kinds the customer may file (R3.4's table kinds).
KINDS = triage.TABLE_KINDS
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LIMIT = Limit(MAX_FAILURES, WINDOW)  # counted with shared/rate_limits.py
TOKEN_TTL = timedelta(minutes=30)
ACTOR_NAME = "Autogestión del cliente"  # who history names for what the customer filed

Text = tuple[str, str]

NOT_FOUND: Text = ("No encontramos una solicitud con ese número y ese RUT o documento de identidad.",
                   "We found no request with that number and that national id.")
TOKEN_INVALID: Text = ("La consulta expiró o no es válida; busque su solicitud de nuevo.",
                       "This look-up has expired or is not valid; find your request again.")
UNAVAILABLE: Text = ("Este seguimiento no se puede ingresar en línea; comuníquese con nuestro centro de atención.",
                     "This follow-up cannot be filed online; please contact our customer service centre.")


def number_key(raw: str) -> str:
    """A request number as typed ("123", "N° 000123", " 000123 ") in its stored form; anything
    else as given (upper-case, trimmed), which matches no stored number."""
    digits = re.sub(r"[^0-9]", "", raw)
    if digits and re.fullmatch(r"\s*(N[°º.]?\s*)?[0-9.\s]+\s*", raw, flags=re.IGNORECASE) and len(digits) <= 12:
        return format_case_number(int(digits))
    return raw.strip().upper()[:40]


# -- what the customer may file (R3.4, R3.5) ---------------------------------------------------------
def self_filed(line: triage.BusinessLine | None) -> bool:
    """R3.5: the customer files follow-ups on this business line (metered gas)."""
    return triage.who_files(line) == triage.Filer.CUSTOMER


def offered(kind: triage.FollowUpKind, d: triage.Decision, *, line: triage.BusinessLine | None) -> bool:
    """``d``: triage asked as if the customer files ``kind`` (a disagreement: the customer
    disagrees). Nothing is offered on a line where the agent files (R3.5)."""
    if not self_filed(line):
        return False
    if d.action == triage.Action.ESCALATE_TO_SUPERVISOR:
        return True
    return d.action == triage.Action.CREATE_FOLLOW_UP and d.follow_up_kind == kind


def kind_label(kind: triage.FollowUpKind) -> Text:
    es, en = triage.kind_name(kind)
    return es[:1].upper() + es[1:], en[:1].upper() + en[1:]


def _day(due: date | None) -> Text | None:
    return (due.strftime("%d-%m-%Y"), due.isoformat()) if due is not None else None


_WHY_ESCALATED: dict[int, Text] = {
    6: ("Su solicitud original sigue sin respuesta y su seguimiento ya fue respondido.",
        "Your original request is still unanswered and its follow-up has been answered."),
    7: ("Su seguimiento está sin respuesta y fuera de plazo.", "Your follow-up is unanswered and past its deadline."),
    8: ("Usted sigue disconforme con la respuesta a su seguimiento.",
        "You still disagree with the answer to your follow-up."),
}


AGENT_FILES: Text = ("Para este servicio, los seguimientos los ingresa nuestro centro de atención: llámenos o "
                     "escríbanos.",
                     "For this service our customer service centre files follow-ups: please call or write to us.")


def status_message(d: triage.Decision, *, number: str, due: date | None, line: triage.BusinessLine | None) -> Text:
    """What the look-up tells the customer about their request (``d``: triage with the customer
    not disagreeing; ``due``: the maximum response date of the case it names)."""
    day = _day(due)
    if d.action in (triage.Action.CREATE_FOLLOW_UP, triage.Action.ESCALATE_TO_SUPERVISOR) and not self_filed(line):
        return AGENT_FILES
    if d.action == triage.Action.TELL_DEADLINE:
        whose = ("de su seguimiento ", "of your follow-up ") if d.about == triage.About.FOLLOW_UP else ("", "")
        if day is None:
            return (f"La solicitud N° {number} está dentro de plazo; la fecha máxima de respuesta {whose[0]}aún "
                    "se está calculando.",
                    f"Request no. {number} is within its deadline; the maximum response date {whose[1]}is still "
                    "being set.")
        return (f"La solicitud N° {number} está dentro de plazo. La fecha máxima de respuesta {whose[0]}es el "
                f"{day[0]}.",
                f"Request no. {number} is within its deadline. The maximum response date {whose[1]}is {day[1]}.")
    if d.action == triage.Action.TELL_ANSWER:
        return (f"El área ya respondió la solicitud N° {number}. Si no está de acuerdo con la respuesta, puede "
                "ingresar un seguimiento por inconformidad.",
                f"The area has already answered request no. {number}. If you disagree with the answer, you can "
                "file a disagreement follow-up.")
    if d.action == triage.Action.CREATE_FOLLOW_UP:
        assert d.follow_up_kind is not None
        es, en = triage.kind_name(d.follow_up_kind)
        if d.follow_up_kind == triage.FollowUpKind.LATE_RESPONSE:
            return (f"La solicitud N° {number} está fuera de plazo y sin respuesta: puede ingresar un seguimiento "
                    f"por {es}.",
                    f"Request no. {number} is past its deadline and unanswered: you can file a {en} follow-up.")
        return (f"Puede ingresar un seguimiento por {es} sobre la solicitud N° {number}.",
                f"You can file a {en} follow-up on request no. {number}.")
    why = _WHY_ESCALATED[d.rule]
    return (f"{why[0]} Si nos deja su comentario, lo llevaremos a un supervisor.",
            f"{why[1]} If you leave us your comment, we will take it to a supervisor.")


def escalated_message(d: triage.Decision) -> Text:
    """R3.4 rules 6–8, told to the customer who tried to file: no new request, a supervisor instead."""
    why = _WHY_ESCALATED[d.rule]
    return (f"{why[0]} No se ingresó otro requerimiento: su caso fue escalado a un supervisor, que lo revisará.",
            f"{why[1]} No new request was filed: your case was escalated to a supervisor, who will review it.")


def not_offered_message(kind: triage.FollowUpKind, d: triage.Decision, *, number: str, due: date | None,
                        line: triage.BusinessLine | None) -> Text:
    """Why ``kind`` cannot be filed now (triage says to tell a date or an answer, or the agent files)."""
    es, en = triage.kind_name(kind)
    said = status_message(d, number=number, due=due, line=line)
    return (f"No corresponde un seguimiento por {es}. {said[0]}", f"A {en} follow-up does not apply. {said[1]}")


def escalation_note(d: triage.Decision, text: str, *, number: str) -> str:
    """What the supervisor reads (the tenant's language is Spanish by default): the triage's
    message to the agent, and the customer's own words."""
    return f"{triage.message(d, number=number)[0]} Comentario del cliente (autogestión): «{text}»"


def follow_up_subject(kind: triage.FollowUpKind, number: str) -> str:
    return f"{kind_label(kind)[0]} (N° {number})"
