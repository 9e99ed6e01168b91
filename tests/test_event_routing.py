"""Every event type has a consumer: nothing published should end up in ``<ns>.unrouted``."""

from __future__ import annotations

from shared.contracts import EVENT_TYPES
from shared.settings import Settings
from tests.conftest import TOKEN_SECRET
from tests.support.system import System


def test_every_event_type_is_consumed_by_some_service(tmp_path) -> None:  # type: ignore[no-untyped-def]
    system = System(Settings(data_dir=tmp_path, token_secret=TOKEN_SECRET))
    consumed = {t for rt in system.rt.values() for t in rt.processor.event_types}
    assert set(EVENT_TYPES) - consumed == set()
    assert consumed - set(EVENT_TYPES) == set()  # and nobody listens for a type that isn't a contract
