"""Input types every service's request models use, so that bad text is refused once, here.

- ``InputModel``: the base of every request body (and its nested parts): unknown fields are
  refused, and every string anywhere in it (lists and dicts too) is checked by ``check_text``.
- ``SafeText``: the same check for a query or form parameter (``q: SafeText | None = None``).
- ``clean_filename``: a file name without path, control or bidirectional override characters.

A NUL byte or a lone UTF-16 surrogate cannot be stored by PostgreSQL (text) or encoded as UTF-8:
without this check they reached the database and came back as a 500."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from shared.refusals import FieldErrors

_UNSAFE = re.compile("[\x00\ud800-\udfff]")
# Bidirectional embeddings/overrides/isolates and the marks: "invoice\u202Efdp.exe" shows as "invoiceexe.pdf".
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def check_text(value: Any) -> Any:
    """Raise ``unsafe_text`` if a string (or any string inside a list/dict) has NUL or a lone surrogate."""
    if isinstance(value, str):
        if _UNSAFE.search(value):
            raise PydanticCustomError("unsafe_text", "text contains NUL or a lone surrogate")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_text(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k)
            check_text(v)
    return value


SafeText = Annotated[str, AfterValidator(check_text)]


class InputModel(BaseModel):
    """Base of request bodies: no unknown fields; no NUL or lone surrogate in any string."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _safe_text(cls, value: Any) -> Any:
        return check_text(value)


def e164(value: str, default_region: str | None = None) -> str:
    """A phone number as E.164 (``+56912345678``), read with ``phonenumbers``: an international
    number as is, a national one in ``default_region``'s plan (the tenant's country, e.g. "CL":
    "9 8765 4321" → "+56987654321"). Raises ``phone_invalid`` (es/en text in shared/problems.py)
    when it is not a possible number."""
    import phonenumbers

    try:
        n = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise PydanticCustomError("phone_invalid", "not a phone number: {reason}", {"reason": str(exc)}) from None
    # "Possible" (a known country code and a length its plan allows), not "valid" (a range the
    # library's snapshot of the plan lists as assigned): ranges are assigned faster than the
    # metadata is updated, and a real new number must not be refused.
    if phonenumbers.is_possible_number_with_reason(n) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise PydanticCustomError("phone_invalid", "not a valid phone number")
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


# A phone number given in E.164 (no region to read a national one by), stored normalised.
Phone = Annotated[str, AfterValidator(lambda v: e164(v.strip()))]

PHONE_INVALID: tuple[str, str] = (
    "No es un teléfono válido para el país del cliente (p. ej. +56912345678 o 9 1234 5678).",
    "Not a valid phone number for the tenant's country (e.g. +56912345678 or 9 1234 5678).")
_PHONE_CHARS = re.compile(r"\+?[0-9 ()./-]+")


def _phone_as_typed(value: str) -> str:
    """Schema-level half of ``PhoneInput``: an international number (``+…``) is checked and
    normalised at once (no region needed); a national one must look like a number (digits and
    the usual separators, 7 to 15 digits) and is read in the tenant's country by the use case
    (``phone_in_region``)."""
    value = value.strip()
    if value.startswith("+"):
        return e164(value)
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE_CHARS.fullmatch(value) or not 7 <= digits <= 15:
        raise PydanticCustomError("phone_invalid", "not a phone number")
    return value


# A phone number as people type it: "+56 9 1234 5678" (normalised to E.164 here) or a national
# "9 1234 5678", which the use case turns into E.164 with the tenant's country (phone_in_region).
PhoneInput = Annotated[str, StringConstraints(max_length=40), AfterValidator(_phone_as_typed)]


def phone_in_region(value: str | None, region: str | None, field: str, errors: FieldErrors) -> str | None:
    """``value`` (a ``PhoneInput``) as E.164, a national number read in ``region`` (the tenant's
    country). When it is not a valid number there, a ``phone_invalid`` error for ``field`` is
    added to ``errors`` (es/en text) and the value is returned as given."""
    if value is None:
        return None
    try:
        return e164(value, (region or "").upper() or None)
    except PydanticCustomError:
        errors.add(field, PHONE_INVALID, "phone_invalid")
        return value


def clean_filename(name: str, default: str = "archivo") -> str:
    """The last path segment, without control and bidirectional formatting characters, ≤ 200 chars."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _BIDI.sub("", _UNSAFE.sub("", name))
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    name = name.strip().strip(".")
    return name[:200] or default
