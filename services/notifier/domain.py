"""Who is told what, and how it reads. Plain Python: no I/O.

On a new case with its deadline (R4.3): the contact gets a confirmation with the number and the
date by which they will be answered; the responsible gets the assignment with the deadline
(R4.7: notifications go to the responsible)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Recipient:
    role: str
    address: str
    template: str


def deadline_recipients(contact_email: str, responsible_email: str) -> list[Recipient]:
    out = [Recipient("contact", contact_email, "case_received")]
    if responsible_email.lower() != contact_email.lower():
        out.append(Recipient("responsible", responsible_email, "case_assigned"))
    return out


def format_date(d: date, language: str) -> str:
    return d.strftime("%d-%m-%Y") if language == "es" else d.isoformat()


def format_instant(t: datetime, language: str, timezone: str = "America/Santiago") -> str:
    local = t.astimezone(ZoneInfo(timezone))
    return local.strftime("%d-%m-%Y %H:%M") if language == "es" else local.strftime("%Y-%m-%d %H:%M")


class Renderer:
    """Renders ``<template>.<language>.subject.j2`` and ``.body.j2``; Spanish when unsure."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        self.env = Environment(loader=FileSystemLoader(folder), undefined=StrictUndefined,
                               autoescape=False, keep_trailing_newline=True)

    def render(self, template: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
        lang = language if language in ("es", "en") else "es"
        subject = self.env.get_template(f"{template}.{lang}.subject.j2").render(context).strip()
        body = self.env.get_template(f"{template}.{lang}.body.j2").render(context)
        return subject, body
