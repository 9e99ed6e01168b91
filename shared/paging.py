"""The one way to page a list, in every service.

Request: ``?limit=N&cursor=C`` — ``limit`` from 1 to ``MAX_LIMIT`` (default ``DEFAULT_LIMIT``),
``cursor`` the ``next_cursor`` of the previous page (absent: the first page).
Response: ``{"items": [...], "next_cursor": "..." | null}`` (``Page[T]``), plus whatever totals a
list adds. Pages are keyset pages: a cursor packs the sort key of the last row, so a page never
skips or repeats rows when others are added meanwhile.

A cursor is opaque to clients: base64url of ``[list, key...]``. Decoding checks the list it was
made for and the type of every key value, so a malformed, tampered or foreign cursor is a 422
problem naming ``cursor`` — never a database error.

    async def list_parties(p: CurrentPrincipal, page: PageParams) -> Page[PartyOut]: ...
    after = page.after("parties", str, uuid.UUID)       # None on the first page
    rows = await query(..., after=after, limit=page.limit + 1)
    return Page.of(rows, page, "parties", key=lambda r: (r.search_name, r.id), item=party_out)
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from shared.refusals import field_error, invalid

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_CURSOR_LENGTH = 600

T = TypeVar("T")


def encode_cursor(kind: str, *key: Any) -> str:
    """Pack a list name and the sort key of a page's last row."""
    values = [v.isoformat() if isinstance(v, date | datetime) else str(v) if isinstance(v, uuid.UUID) else v
              for v in key]
    raw = json.dumps([kind, *values], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def bad_cursor() -> Exception:
    return invalid(field_error("cursor", ("El cursor de página no es válido; use el next_cursor recibido.",
                                          "Invalid page cursor; pass the next_cursor you received."),
                               "invalid_cursor", where="query"))


def _typed(value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is str:
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError
        return value
    if kind is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError
        return value
    if not isinstance(value, str):
        raise ValueError
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is datetime:
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is None:
            raise ValueError
        return dt
    if kind is date:
        return date.fromisoformat(value)
    raise TypeError(kind)


def decode_cursor(cursor: str, kind: str, *types: type) -> list[Any]:
    """The sort key ``encode_cursor(kind, ...)`` packed, each value parsed as ``types`` says
    (``None`` stays ``None``: nullable sort columns). A 422 problem otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, list) or len(data) != len(types) + 1 or data[0] != kind:
            raise ValueError
        return [_typed(v, t) for v, t in zip(data[1:], types, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise bad_cursor() from None


@dataclass(frozen=True)
class PageQuery:
    """``limit`` and ``cursor`` as every list endpoint takes them."""

    limit: int
    cursor: str | None

    def after(self, kind: str, *types: type) -> list[Any] | None:
        """The previous page's last sort key, or None on the first page."""
        return None if self.cursor is None else decode_cursor(self.cursor, kind, *types)


def page_query(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page (1–{MAX_LIMIT})")] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH,
                                            description="`next_cursor` of the previous page")] = None,
) -> PageQuery:
    return PageQuery(limit=limit, cursor=cursor)


PageParams = Annotated[PageQuery, Depends(page_query)]


class Page(BaseModel, Generic[T]):
    """One page of a list: its rows and the cursor of the next page (null on the last)."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")

    @classmethod
    def of(cls, rows: Sequence[Any], page: PageQuery, kind: str, *, key: Callable[[Any], tuple[Any, ...]],
           item: Callable[[Any], T], **extra: Any) -> Self:
        """From rows fetched with ``limit + 1``: the first ``limit`` as items, a cursor if there
        were more (``extra``: a subclass's other fields, e.g. ``CountedPage``'s totals)."""
        more = len(rows) > page.limit
        shown = rows[: page.limit]
        nxt = encode_cursor(kind, *key(shown[-1])) if more and shown else None
        return cls(items=[item(r) for r in shown], next_cursor=nxt, **extra)


class CountedPage(Page[T], Generic[T]):
    """A page with the size of the whole list, as ``GET /inbox`` gives it: ``total`` is exact up
    to a bound (the count stops there: it stays cheap on any list), beyond it an estimate and
    ``total_exact`` is false."""

    total: int | None = Field(default=None, description="Rows matching (all pages); null when not computed")
    total_exact: bool | None = Field(default=None, description="false: total is an estimate (beyond the bound)")
