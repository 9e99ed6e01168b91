"""Event contracts: the envelope every message travels in, and one pydantic model per event
type. ``EVENT_TYPES`` in ``events.py`` is the single list of what may cross the broker."""

from shared.contracts.envelope import Envelope
from shared.contracts.events import EVENT_TYPES, parse_data

__all__ = ["EVENT_TYPES", "Envelope", "parse_data"]
