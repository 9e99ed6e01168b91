"""The inbox's query parameters (R4.5), shared by ``GET /inbox``, ``GET /inbox/mine`` and the
inbox export (R4.10): a model module, not a route module, so each route module imports it and
none imports another. ``InboxFilters`` are the filters, search and sort; ``MineParams`` adds the
page (``limit``, ``cursor``, ``count``), which an export does not take."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.intake.domain.lifecycle import Priority, Status
from services.intake.service_layer import inbox as usecases
from shared.fields import check_text
from shared.paging import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
CategoryPath = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}(/[a-z0-9][a-z0-9-]{0,59}){0,2}$")]
Association = Literal["owner", "lessee", "property", "non_owner", "party", "asset"]
Sort = Literal["deadline", "-deadline", "created", "-created", "priority", "-priority"]


class InboxFilters(BaseModel):
    """What selects and orders the inbox's rows (every parameter of ``GET /inbox/mine`` but the page)."""

    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=200, description=(
        "Free text: contact name, e-mail, phone, case number, subject (every word must appear; at least one "
        "word of 3+ characters); a valid national id also finds its parties' cases"))
    status: list[Status] = Field(default_factory=list, description=(
        "Any of these states (repeat the parameter); default: new, in_execution, waiting_on_customer"))
    type: list[Code] = Field(default_factory=list, description="Case type codes")
    category: CategoryPath | None = Field(default=None, description=(
        "A category path, e.g. medidor/cobranza: cases filed under it (any deeper level)"))
    area: list[Code] = Field(default_factory=list)
    project: list[Code] = Field(default_factory=list)
    channel: list[Code] = Field(default_factory=list)
    association: list[Association] = Field(default_factory=list)
    priority: list[Priority] = Field(default_factory=list)
    due_from: date | None = Field(default=None, description="Deadline (due day) on or after")
    due_to: date | None = Field(default=None, description="Deadline (due day) on or before")
    overdue: bool | None = Field(default=None, description=(
        "true: overdue only (R4.8: the deadline passed unanswered; executing or finishing ends it — the "
        "case resource's overdue); false: the rest"))
    sort: Sort = Field(default="deadline", description="deadline | created | priority (urgent first); '-' reverses")

    @field_validator("q", mode="after")
    @classmethod
    def _safe_q(cls, value: str | None) -> str | None:
        return check_text(value)  # type: ignore[no-any-return]


class MineParams(InboxFilters):
    """Query parameters of ``GET /inbox/mine`` (all of ``GET /inbox`` but ``responsible``)."""

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Rows per page (1–{MAX_LIMIT})")
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
    count: bool | None = Field(default=None, description="Compute the total (default: on the first page only)")

    @field_validator("cursor", mode="after")
    @classmethod
    def _safe_cursor(cls, value: str | None) -> str | None:
        return check_text(value)  # type: ignore[no-any-return]


RESPONSIBLE_DESCRIPTION = "User ids, or 'me'"


class InboxParams(MineParams):
    """Query parameters of ``GET /inbox``."""

    responsible: list[str] = Field(default_factory=list, description=RESPONSIBLE_DESCRIPTION)


def inbox_request(f: InboxFilters, responsible: list[str], *, limit: int, cursor: str | None,
                  count: bool | None) -> usecases.InboxRequest:
    """The use case's request from the filters and a page."""
    return usecases.InboxRequest(
        q=f.q, statuses=tuple(s.value for s in f.status), types=tuple(f.type),
        category=f.category, areas=tuple(f.area), projects=tuple(f.project),
        channels=tuple(f.channel), associations=tuple(f.association),
        priorities=tuple(x.value for x in f.priority), responsible=tuple(responsible),
        due_from=f.due_from, due_to=f.due_to, overdue=f.overdue, sort=f.sort,
        limit=limit, cursor=cursor, count=count)
