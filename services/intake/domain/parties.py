"""Parties and the assets they hold (R2.1, R2.7, R2.8, R4.2, R0.1): the rules, plain Python, no I/O.

Kinds of party, as the procedures name them: a customer who is a ``person`` or a ``company``
(R0.1), a ``prospect`` and a ``stakeholder`` — external, or internal (an internal customer, R2.1)
— and, for real-estate after-sales (R4.2), an ``owner``, a ``lessee`` (the seed's
"arrendatario"; called lessee here so it never reads as an Atiende tenant) and a ``non_owner``.

Kinds of asset: ``policy`` (insurer), ``supply`` (a utility's service point, imported from the
billing system and read-only, R2.1), ``property`` (real estate) and ``product`` (R0.1).

National ids are validated for the tenant's country with python-stdnum and stored normalised:

- Chile (CL): RUT with its check digit, stored without dots and with a dash before the check
  digit, upper-case K: ``10.359.182-1`` → ``10359182-1``; ``15614076-4`` is refused.
- El Salvador (SV): the DUI (8 digits + check digit; since 2021 also the NIT of natural persons),
  stored ``00016297-5``; or a 14-digit NIT (stdnum.sv.nit), stored ``0614-050707-104-8``.
- Another country for which stdnum has number modules: the id must be valid for one of them and
  is stored in that module's format. A country stdnum does not know: accepted as given (trimmed).

``national_id_key`` (upper-case letters and digits only) is what uniqueness and search use, so
``10.359.182-1``, ``10359182-1`` and ``103591821`` all find the same party."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import ModuleType

from stdnum.cl import rut as cl_rut
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.sv import nit as sv_nit


class PartyKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"
    PROSPECT = "prospect"
    STAKEHOLDER = "stakeholder"  # external, or internal (``internal=True``: an internal customer)
    OWNER = "owner"
    LESSEE = "lessee"  # arrendatario
    NON_OWNER = "non_owner"


class AssetKind(StrEnum):
    POLICY = "policy"
    SUPPLY = "supply"  # imported from billing only (R2.1)
    PROPERTY = "property"
    PRODUCT = "product"


PARTY_KIND_LABELS: dict[PartyKind, tuple[str, str]] = {
    PartyKind.PERSON: ("Persona", "Person"),
    PartyKind.COMPANY: ("Empresa", "Company"),
    PartyKind.PROSPECT: ("Cliente prospecto", "Prospect"),
    PartyKind.STAKEHOLDER: ("Stakeholder", "Stakeholder"),
    PartyKind.OWNER: ("Propietario", "Owner"),
    PartyKind.LESSEE: ("Arrendatario", "Lessee"),
    PartyKind.NON_OWNER: ("No propietario", "Non-owner"),
}

ASSET_KIND_LABELS: dict[AssetKind, tuple[str, str]] = {
    AssetKind.POLICY: ("Póliza", "Policy"),
    AssetKind.SUPPLY: ("Suministro", "Supply"),
    AssetKind.PROPERTY: ("Propiedad", "Property"),
    AssetKind.PRODUCT: ("Producto", "Product"),
}

# Assets users may create and change; supplies come only from the billing import (R2.1).
USER_ASSET_KINDS = frozenset(AssetKind) - {AssetKind.SUPPLY}

SUPPLIES_READ_ONLY = ("Los suministros se importan desde el sistema de facturación y no se pueden crear, "
                      "modificar ni eliminar aquí.",
                      "Supplies are imported from the billing system and cannot be created, changed or "
                      "deleted here.")


def may_be_internal(kind: PartyKind | str) -> bool:
    """Only a stakeholder may be internal (an internal customer, R2.1)."""
    return kind == PartyKind.STAKEHOLDER


# -- national ids ------------------------------------------------------------------------------

class InvalidNationalId(ValueError):
    """The id is not valid for the country; ``message`` is an (es, en) pair."""

    def __init__(self, message: tuple[str, str]) -> None:
        super().__init__(message[1])
        self.message = message


@dataclass(frozen=True)
class NationalId:
    value: str  # the stored, displayed form
    key: str  # upper-case letters and digits only: uniqueness and search


def id_key(raw: str) -> str:
    """Letters and digits only, upper-case: how ids are compared whatever their punctuation."""
    return re.sub(r"[^0-9A-Z]", "", raw.upper())


def _cl(raw: str) -> str:
    try:
        compact = cl_rut.validate(raw)
    except StdnumError:
        raise InvalidNationalId(("El RUT no es válido (revise el dígito verificador).",
                                 "Invalid RUT (check the verification digit).")) from None
    return f"{compact[:-1]}-{compact[-1]}"


def dui_check_digit(digits8: str) -> str:
    """El Salvador DUI: weights 9..2 over the first eight digits; (10 - sum mod 10) mod 10."""
    total = sum(int(d) * w for d, w in zip(digits8, range(9, 1, -1), strict=True))
    return str((10 - total % 10) % 10)


def _sv(raw: str) -> str:
    compact = re.sub(r"[\s.\-]", "", raw.upper()).removeprefix("SV")
    if re.fullmatch(r"[0-9]{9}", compact) and compact[-1] == dui_check_digit(compact[:8]):
        return f"{compact[:8]}-{compact[8]}"
    if sv_nit.is_valid(compact):
        return str(sv_nit.format(compact))
    raise InvalidNationalId(("El DUI o NIT no es válido (revise el dígito verificador).",
                             "Invalid DUI or NIT (check the verification digit)."))


# Modules in a country's stdnum package that are not ids of people or companies.
_NOT_PARTY_IDS = frozenset({"postcode", "iban", "bic", "isin", "wkn", "rtn", "banknote", "bankaccount",
                            "cusip", "figi", "isil", "mac", "imei", "meid", "grid", "isan", "ismn", "isbn",
                            "issn", "ean", "lei"})


@cache
def _country_modules(country: str) -> tuple[ModuleType, ...]:
    try:
        pkg = importlib.import_module(f"stdnum.{country.lower()}")
    except ImportError:
        return ()
    mods = []
    for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
        if info.name in _NOT_PARTY_IDS:
            continue
        mod = importlib.import_module(f"stdnum.{country.lower()}.{info.name}")
        if hasattr(mod, "is_valid") and hasattr(mod, "compact"):
            mods.append(mod)
    return tuple(mods)


def _generic(raw: str, country: str) -> str:
    modules = _country_modules(country)
    if not modules:
        return raw.strip()  # a country stdnum does not know: as given
    for mod in modules:
        if mod.is_valid(raw):
            fmt = getattr(mod, "format", None)
            return str(fmt(raw) if fmt else mod.compact(raw))
    raise InvalidNationalId((f"El número de identificación no es válido para el país ({country.upper()}).",
                             f"The national id is not valid for the country ({country.upper()})."))


def normalize_national_id(raw: str, country: str) -> NationalId:
    """Validate ``raw`` for the tenant's ``country`` (ISO alpha-2) and return its stored form.
    Raises ``InvalidNationalId``."""
    raw = raw.strip()
    if not raw:
        raise InvalidNationalId(("El número de identificación está vacío.", "The national id is empty."))
    cc = country.upper()
    value = _cl(raw) if cc == "CL" else _sv(raw) if cc == "SV" else _generic(raw, cc)
    key = id_key(value)
    if not key or len(value) > 40:
        raise InvalidNationalId(("El número de identificación no es válido.", "Invalid national id."))
    return NationalId(value=value, key=key)


def national_id_search_key(raw: str, country: str) -> str:
    """The key to look an id up by: the validated form when it validates, else its letters and
    digits (a partial or foreign id still finds exact matches)."""
    try:
        return normalize_national_id(raw, country).key
    except InvalidNationalId:
        return id_key(raw)


# -- names, e-mails and phones, as searched --------------------------------------------------

def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name ("Héctor" and "HECTOR" → "hector"), stored
    beside the name so the same search works on PostgreSQL and SQLite alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", plain.casefold()).strip()


def phone_digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def like_escape(text: str) -> str:
    """Escape LIKE wildcards; use with ``escape='\\\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- free-form JSON (a party's details, an asset's attributes) ----------------------------------

MAX_FREE_JSON_CHARS = 10_000
MAX_FREE_JSON_DEPTH = 8  # levels of objects/arrays inside the field: {"a": {"b": [1]}} is 3


def json_depth(value: object) -> int:
    """Levels of dicts/lists in ``value`` (a scalar is 0), without recursion: a hostile document
    1,000 levels deep must not exhaust the stack while it is being measured."""
    depth, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = list(item.values())
        elif isinstance(item, list | tuple):
            items = list(item)
        else:
            continue
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in items)
    return depth


def _non_finite(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def free_json_problem(value: object) -> tuple[str, tuple[str, str]] | None:
    """Why free-form JSON cannot be stored, as (code, (es, en)), or None. PostgreSQL's jsonb
    refuses NaN and infinities, and deep or huge documents are not details but an attack."""
    if json_depth(value) > MAX_FREE_JSON_DEPTH:
        return "json_too_deep", (f"Demasiados niveles anidados (máximo {MAX_FREE_JSON_DEPTH}).",
                                 f"Nested too deeply (at most {MAX_FREE_JSON_DEPTH} levels).")
    if _non_finite(value):
        return "number_not_finite", ("Los números deben ser finitos (no NaN ni infinito).",
                                     "Numbers must be finite (not NaN or infinity).")
    if len(json.dumps(value, default=str)) > MAX_FREE_JSON_CHARS:
        return "json_too_large", (f"A lo más {MAX_FREE_JSON_CHARS} caracteres de JSON.",
                                  f"At most {MAX_FREE_JSON_CHARS} characters of JSON.")
    return None


def internal_problem(kind: PartyKind | str, internal: bool) -> tuple[str, str] | None:
    """R2.1: only a stakeholder may be internal (an internal customer)."""
    if internal and not may_be_internal(kind):
        return ("Sólo un stakeholder puede ser interno (cliente interno).",
                "Only a stakeholder can be internal (an internal customer).")
    return None


# -- the billing import of supplies (R2.1) ---------------------------------------------------

MAX_IMPORT_ROWS = 10_000  # rows per request: larger exports are split by the sender
MAX_IMPORT_BYTES = 8 * 1024 * 1024  # the body of one import (CSV or JSON), refused with 413 beyond
# A JSON import is a list of rows (or {"supplies": [...]}), a row an object, its values scalars
# or attributes of at most MAX_FREE_JSON_DEPTH levels.
