"""Report shapes. Plain Python: no I/O."""

from __future__ import annotations

from pydantic import BaseModel


class CountRow(BaseModel):
    key: str
    label: str
    count: int


class CaseCounts(BaseModel):
    tenant: str
    total: int
    by_status: list[CountRow]
    by_type: list[CountRow]


STATUS_LABELS = {"es": {"new": "Nueva", "in_execution": "En ejecución", "finished_success": "Finalizada con éxito",
                        "finished_failure": "Finalizada sin éxito"},
                 "en": {"new": "New", "in_execution": "In execution", "finished_success": "Finished (success)",
                        "finished_failure": "Finished (no success)"}}


def status_label(status: str, language: str) -> str:
    return STATUS_LABELS.get(language, STATUS_LABELS["es"]).get(status, status)
