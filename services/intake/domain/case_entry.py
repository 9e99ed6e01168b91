"""The rules of a case as it is entered (R4.2, R2.3, R3.2). Plain Python: no I/O.

Each check answers (field, (es, en), code) for every problem it finds, so that POST /cases can
report all of them at once — the cross-field rules here are not model validators, which pydantic
runs only once every field is valid (and which name no field)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.intake.domain.catalog import CaseTypeRules, case_type_problems

Text = tuple[str, str]
Problem = tuple[str, Text, str]  # (field, message, code)

RESPONSIBLE = ("Indique responsible_id o responsible_email (sólo uno).",
               "Give responsible_id or responsible_email (exactly one).")
COMMITMENT = ("La fecha de compromiso interna debe ser anterior a la del cliente (R2.3).",
              "The internal commitment date must be earlier than the customer's (R2.3).")
PARTY_ASSOCIATIONS = ("owner", "lessee", "non_owner", "party")


def cross_field_problems(*, responsible_id: Any, responsible_email: Any, association: str | None,
                         party_id: Any, asset_id: Any, internal_commitment: date | None,
                         customer_commitment: date | None) -> list[Problem]:
    """R4.2: one responsible (by id or by e-mail); an association names its party or property.
    R2.3: the internal commitment date comes before the customer's — both fields are named, so a
    form can mark the two."""
    out: list[Problem] = []
    if (responsible_id is None) == (responsible_email is None):
        out.append(("responsible_id", RESPONSIBLE, "responsible"))
    if association == "property" and asset_id is None:
        out.append(("asset_id", ("Una solicitud sobre una propiedad indica la propiedad (asset_id).",
                                 "A request about a property names the property (asset_id)."), "association"))
    if association in PARTY_ASSOCIATIONS and party_id is None:
        out.append(("party_id", ("Esta asociación indica el cliente o contraparte (party_id).",
                                 "This association names the party (party_id)."), "association"))
    if internal_commitment is not None and customer_commitment is not None \
            and internal_commitment >= customer_commitment:
        out.append(("internal_commitment_date", COMMITMENT, "commitment_dates"))
        out.append(("customer_commitment_date", COMMITMENT, "commitment_dates"))
    return out


@dataclass(frozen=True)
class TypeRules:
    """What a case type asks of a case being entered."""

    catalog: CaseTypeRules
    requires_interaction: bool = False

    @classmethod
    def of(cls, row: Any) -> TypeRules:
        return cls(CaseTypeRules.of(row), bool(getattr(row, "requires_interaction", False)))


def type_problems(rules: TypeRules, *, channel: str | None, project: str | None, present: Iterable[str],
                  interaction_id: Any) -> list[Problem]:
    """R3.2 / R4.2 (``catalog.case_type_problems``), and: a type that names its channels needs
    one of them also when the channel is left out; a type that exists only under an interaction
    (R2.3: an event) needs ``interaction_id``."""
    out = case_type_problems(rules.catalog, channel=channel, project=project, present=present)
    allowed = rules.catalog.allowed_channels
    if channel is None and allowed is not None:
        names = ", ".join(allowed) or "—"
        out.append(("channel", (f"Este tipo de solicitud se recibe sólo por: {names}. Indique el canal.",
                                f"This case type is accepted only through: {names}. Give the channel."),
                    "channel_required_by_type"))
    if rules.requires_interaction and interaction_id is None:
        out.append(("interaction_id", ("Este tipo de solicitud se crea sólo bajo una atención (R2.3): indique "
                                       "interaction_id.",
                                       "This case type is created only under an interaction (R2.3): give "
                                       "interaction_id."), "interaction_required"))
    return out


def catalog_problems(*, channel: str | None, area: str | None, project: str | None,
                     category_path: list[str] | None, channels: frozenset[str], areas: frozenset[str],
                     projects: frozenset[str], category_paths: frozenset[str]) -> list[Problem]:
    """Every catalog code a case names must be an active entry of the tenant's catalog."""
    out: list[Problem] = []
    for field, code, known, what in (("channel", channel, channels, ("El canal", "The channel")),
                                     ("area", area, areas, ("El área", "The area")),
                                     ("project", project, projects, ("El proyecto", "The project"))):
        if code is not None and code not in known:
            out.append((field, (f"{what[0]} no existe o está inactivo en el catálogo.",
                                f"{what[1]} does not exist or is inactive in the catalog."), f"unknown_{field}"))
    if category_path:
        path = "/".join(category_path)
        if path not in category_paths:
            out.append(("category_path", ("La categoría no existe o está inactiva en el catálogo.",
                                          "The category does not exist or is inactive in the catalog."),
                        "unknown_category"))
    return out


# -- R1.4: a type that must be preceded by another on the same policy -------------------------------
def precedence_problem(preceded_by: str | None, asset_id: Any) -> Problem | None:
    """A type with ``preceded_by`` (a surrender: a retention request first) is entered on the
    policy (``asset_id``): without it there is no "same policy" to look for."""
    if preceded_by and asset_id is None:
        return ("asset_id", ("Este tipo de solicitud se ingresa sobre la póliza (asset_id), que debe tener antes "
                             "su solicitud de retención.",
                             "This case type is entered on the policy (asset_id), which must have its retention "
                             "request first."), "asset_required")
    return None


def precedence_texts(type_name: Text, missing_name: Text, policy: str) -> tuple[Text, Text]:
    """R1.4's refusal: (title, detail), each (es, en), naming the missing type and the policy."""
    return (("Falta la solicitud de retención", "The retention request is missing"),
            (f"Una solicitud «{type_name[0]}» de la póliza {policy} requiere antes una solicitud «{missing_name[0]}» "
             "de la misma póliza (R1.4); no se creó nada.",
             f"A «{type_name[1]}» case for policy {policy} requires an earlier «{missing_name[1]}» case for the "
             "same policy (R1.4); nothing was created."))
