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

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

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
    "9 8765 4321"). Raises ``invalid_phone`` when it is not a valid number."""
    import phonenumbers

    try:
        n = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise PydanticCustomError("invalid_phone", "not a phone number: {reason}", {"reason": str(exc)}) from None
    if not phonenumbers.is_valid_number(n):
        raise PydanticCustomError("invalid_phone", "not a valid phone number")
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


# A phone number given in E.164 (no region to read a national one by), stored normalised.
Phone = Annotated[str, AfterValidator(lambda v: e164(v.strip()))]


def clean_filename(name: str, default: str = "archivo") -> str:
    """The last path segment, without control and bidirectional formatting characters, ≤ 200 chars."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _BIDI.sub("", _UNSAFE.sub("", name))
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    name = name.strip().strip(".")
    return name[:200] or default
