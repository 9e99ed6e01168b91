"""Writers of the inbox export (R4.10): CSV and XLSX, streamed, memory flat whatever the size.

Both take the rows as an async iterator of pages (lists of value lists, ``domain/inbox_export``'s
``export_row``) and give the file as an async iterator of byte chunks:

- CSV: UTF-8 with a BOM (so Excel reads the accents), the chosen separator, one chunk per page
  as it comes. With ';' (Spanish locales) decimals are written with a comma, as such a
  spreadsheet reads them. A text that a spreadsheet would run as a formula (it starts with
  ``=``, ``@``, a tab or CR, or ``+``/``-`` followed by anything but a number or phone) gets a
  leading apostrophe: the CSV-injection guard spreadsheets themselves recognise.
- XLSX: xlsxwriter in ``constant_memory`` mode (each row is flushed to a temporary file as it is
  written, so memory does not grow with rows), dates as spreadsheet datetimes; strings are never
  turned into formulas or links. A zip cannot be sent before it is complete, so the workbook is
  written to a temporary file first (page by page, in a worker thread so the event loop keeps
  serving), then streamed in 1 MiB chunks and deleted. Past the sheet's 1,048,576 rows the rows
  continue on a second sheet ("Bandeja (2)")."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from services.intake.domain.inbox_export import DATETIME_FORMAT, XLSX_DATETIME_FORMAT

Pages = AsyncIterator[list[list[Any]]]
BOM = "\ufeff"
CHUNK = 1024 * 1024
XLSX_MAX_ROWS = 1_048_576  # per sheet, header included
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "@", "\t", "\r", "+", "-")
_FORMULA_CHARS = frozenset(_FORMULA_START)
_NUMBERISH = re.compile(r"^[+-][0-9][0-9 ().,-]*$")


def neutralize(text: str) -> str:
    """A text a spreadsheet would evaluate, made literal ("=1+1" → "'=1+1"); "+56 9 1234 5678" stays."""
    if text.startswith(_FORMULA_START) and not _NUMBERISH.match(text):
        return "'" + text
    return text


def _csv_cell(value: Any, decimal_comma: bool) -> str:
    if value.__class__ is str:  # most cells: the first character tells whether the guard applies
        return neutralize(value) if value[:1] in _FORMULA_CHARS else value
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, float):
        return str(value).replace(".", ",") if decimal_comma else str(value)
    return neutralize(str(value))


async def csv_stream(header: list[str], pages: Pages, separator: str) -> AsyncIterator[bytes]:
    buf = io.StringIO()
    out = csv.writer(buf, delimiter=separator, lineterminator="\r\n")
    decimal_comma = separator == ";"

    def take() -> bytes:
        data = buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
        return data

    buf.write(BOM)
    out.writerow(header)
    yield take()
    def page(rows: list[list[Any]]) -> bytes:
        out.writerows([_csv_cell(v, decimal_comma) for v in row] for row in rows)
        return take()

    async for rows in pages:
        yield await asyncio.to_thread(page, rows)  # a worker thread: the event loop keeps serving


class XlsxFile:
    """One workbook being written row after row (constant memory) into a temporary file."""

    def __init__(self, header: list[str], sheet_name: str) -> None:
        # One private folder for the workbook and xlsxwriter's per-sheet row files: removing it
        # removes everything, also when the export was abandoned half-way.
        self.dir = tempfile.mkdtemp(prefix="atiende-export-")
        self.path = os.path.join(self.dir, "export.xlsx")
        self.closed = False
        self.header = header
        self.sheet_name = sheet_name
        self.book = xlsxwriter.Workbook(self.path, {
            "constant_memory": True, "in_memory": False, "default_date_format": XLSX_DATETIME_FORMAT,
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            "tmpdir": self.dir})
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        name = self.sheet_name if self.sheets == 1 else f"{self.sheet_name} ({self.sheets})"
        self.sheet = self.book.add_worksheet(name)
        bold = self.book.add_format({"bold": True})
        self.sheet.set_column(0, len(self.header) - 1, 18)  # before any row: constant_memory writes in order
        self.sheet.freeze_panes(1, 0)
        self.sheet.write_row(0, 0, self.header, bold)
        self.row = 1

    def add(self, rows: list[list[Any]]) -> None:
        for values in rows:
            if self.row >= XLSX_MAX_ROWS:
                self._new_sheet()
            self.sheet.write_row(self.row, 0, values)
            self.row += 1

    def close(self) -> None:
        self.book.close()
        self.closed = True

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while data := f.read(CHUNK):
                yield data

    def delete(self) -> None:
        if not self.closed:  # abandoned: let go of the row files' handles before removing them
            for sheet in self.book.worksheets():
                sheet._opt_close()
        shutil.rmtree(self.dir, ignore_errors=True)


async def xlsx_stream(header: list[str], pages: Pages, sheet_name: str) -> AsyncIterator[bytes]:
    book = await asyncio.to_thread(XlsxFile, header, sheet_name)
    try:
        async for rows in pages:
            await asyncio.to_thread(book.add, rows)
        await asyncio.to_thread(book.close)
        for data in book.chunks():
            yield data
    finally:
        book.delete()
