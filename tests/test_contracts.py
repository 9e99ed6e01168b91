"""Event contracts: the envelope, versioned types, and docs/architecture.md in step with them."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.contracts import EVENT_TYPES, Envelope, parse_data
from shared.messaging.topology import Topology, delay_label

ROOT = Path(__file__).resolve().parents[1]


def test_envelope_round_trips_and_follow_keeps_correlation() -> None:
    env = Envelope(source="atiende/intake", type="case.created.v1", subject="c1", tenant="t", data={"a": 1})
    back = Envelope.from_bytes(env.to_bytes())
    assert back == env and back.specversion == "1.0"
    nxt = env.follow(source="atiende/workflow", type="case.deadline_set.v1", data={})
    assert nxt.correlationid == str(env.id) and nxt.causationid == str(env.id)
    assert nxt.tenant == "t" and nxt.subject == "c1" and nxt.id != env.id


def test_every_event_type_is_versioned_and_documented() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for et in EVENT_TYPES:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+\.v[0-9]+", et), et
        assert f"`{et}`" in doc, f"{et} missing from docs/architecture.md"


def test_payloads_are_strict() -> None:
    with pytest.raises(ValueError):
        parse_data("case.exploded.v1", {})
    with pytest.raises(ValidationError):
        parse_data("case.overdue.v1", {"case_id": str(uuid.uuid4()), "due_at": "2026-01-01T00:00:00Z", "x": 1})


def test_broker_names_are_readable_in_the_dashboard() -> None:
    t = Topology("atiende")
    assert t.events_exchange == "atiende.events"
    assert t.queue("notifier") == "atiende.notifier.events"
    assert t.dead_letter_queue("notifier") == "atiende.notifier.dlq"
    assert [t.retry_queue("workflow", d) for d in (5, 60, 600, 0.2, 90, 7200)] == [
        "atiende.workflow.retry.5s", "atiende.workflow.retry.1m", "atiende.workflow.retry.10m",
        "atiende.workflow.retry.200ms", "atiende.workflow.retry.90s", "atiende.workflow.retry.2h"]
    assert delay_label(1.5) == "1.5s"
