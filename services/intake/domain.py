"""intake's rules about a case as it is entered. Plain Python: no I/O."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any


class CaseStatus(StrEnum):
    NEW = "new"
    IN_EXECUTION = "in_execution"
    FINISHED_SUCCESS = "finished_success"
    FINISHED_FAILURE = "finished_failure"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# R0.3: every case starts at normal priority; raising it is a separate, justified action.
INITIAL_PRIORITY = Priority.NORMAL
INITIAL_STATUS = CaseStatus.NEW


def format_case_number(n: int) -> str:
    """The human-readable number shown to agents and customers, unique per tenant."""
    return f"{n:06d}"


def request_fingerprint(body: dict[str, Any]) -> str:
    """Stable hash of a request body, to tell a retried request from a different one that reuses
    an Idempotency-Key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
