"""intake's small rules about a case as it is entered (numbering, request fingerprints). The
lifecycle and priority policy are in ``lifecycle.py``. Plain Python: no I/O."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def format_case_number(n: int) -> str:
    """The human-readable number shown to agents and customers, unique per tenant."""
    return f"{n:06d}"


def request_fingerprint(body: dict[str, Any]) -> str:
    """Stable hash of a request body, to tell a retried request from a different one that reuses
    an Idempotency-Key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
