"""Retention requests (seed 001: R1.2, R1.3). Plain Python.

- Which case types are retention requests: ``RETENTION_TYPE_CODES`` (the catalog has no flag for
  it yet; a code set kept here is enough while one insurer uses it).
- R1.3 the offers an executive may make to keep the customer (``OfferKind``).
- R1.2 the desistance letter's text, from the template of the seed ("Carta de Desistimiento"),
  with the national id as the country writes it and the date in Spanish."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum.cl import rut as cl_rut
from stdnum.exceptions import ValidationError

# Case type codes whose cases are retention requests ("Retención total (sólo alertas)").
RETENTION_TYPE_CODES: frozenset[str] = frozenset({"retencion-total"})

RETAINED = "retained"  # the outcome text of a retention request finished by a desistance


def is_retention_type(type_code: str) -> bool:
    return type_code in RETENTION_TYPE_CODES


class OfferKind(StrEnum):
    """R1.3, in the seed's order."""

    WITHDRAW_SAVINGS = "withdraw_savings"  # retirar sus ahorros desde la cuenta de excedentes
    LOAN = "loan"  # ofrecer un préstamo
    DIRECT_PAYMENT = "direct_payment"  # cambiarlo a vía de pago directo
    PREMIUM_PAUSE = "premium_pause"  # pausa de primas por problemas económicos


OFFER_LABELS: dict[OfferKind, tuple[str, str]] = {
    OfferKind.WITHDRAW_SAVINGS: ("Retiro de ahorros de la cuenta de excedentes", "Withdraw savings"),
    OfferKind.LOAN: ("Préstamo", "Loan"),
    OfferKind.DIRECT_PAYMENT: ("Cambio a vía de pago directo", "Switch to direct payment"),
    OfferKind.PREMIUM_PAUSE: ("Pausa en el pago de primas (motivo económico)", "Premium pause (economic reasons)"),
}

NOT_RETENTION = ("Esta acción sólo existe en solicitudes de retención.",
                 "This action exists only on retention requests.")

MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
             "octubre", "noviembre", "diciembre")


def spanish_date(d: date) -> str:
    """3 de diciembre de 2026."""
    return f"{d.day} de {MONTHS_ES[d.month - 1]} de {d.year}"


def format_national_id(value: str | None, country: str) -> str:
    """As the country writes it: a Chilean RUT with dots and dash (12.345.678-5); anything else
    (or a RUT that does not validate) as stored."""
    if not value:
        return ""
    if country.upper() == "CL":
        try:
            return str(cl_rut.format(cl_rut.validate(value)))
        except ValidationError:
            return value
    return value


@dataclass(frozen=True)
class LetterData:
    company: str
    customer_name: str
    national_id: str  # already formatted
    policy_code: str
    on: date
    executive_name: str


def letter_lines(d: LetterData) -> tuple[str, list[str]]:
    """(title, paragraphs) of the desistance letter, after the seed's template."""
    return "Carta de Desistimiento", [
        d.company,
        "Presente",
        "",
        f"A través de la presente manifiesto a ustedes mi intención de permanecer como cliente de {d.company} "
        f"y continuar con mi póliza de seguro, N° {d.policy_code}.",
        "",
        "Saluda atentamente a usted.",
        "",
        "",
        "______________________________",
        "Firma del cliente",
        d.customer_name,
        f"RUT: {d.national_id}" if d.national_id else "RUT:",
        "",
        f"Fecha: {spanish_date(d.on)}",
        f"Ejecutivo(a) de Servicio al Cliente: {d.executive_name}",
    ]


def latin1(text: str) -> str:
    """What the PDF's core fonts can print (Latin-1): other letters lose their accents, the
    rest becomes '?'."""
    out = []
    for ch in text:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)
