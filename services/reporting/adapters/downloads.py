"""Reports as downloads: CSV (UTF-8 with BOM, so that spreadsheets read the accents; streamed row
by row) and XLSX (openpyxl's write-only mode: rows go to the file, not kept as cells)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text, a row at a time (dates and times written ``YYYY-MM-DD HH:MM:SS``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    yield "\ufeff"
    for row in [header, *rows]:
        w.writerow([v.isoformat(sep=" ") if hasattr(v, "isoformat") else v for v in row])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def xlsx_bytes(sheet: str, header: list[str], rows: Iterable[list[Any]]) -> bytes:
    """A workbook with one sheet: the header, then the rows."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
