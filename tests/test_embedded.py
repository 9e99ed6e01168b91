"""The embedded mode (SQLite + in-process bus) keeps the same promises as the real deployment:
retries with delay, dead letters and replay, and nothing lost across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shared.settings import Settings
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, wait_for
from tests.test_reliability import assert_each_case_mailed_once


async def test_embedded_transient_failures_retry_then_dlq_and_replay_once(embedded_system: System,
                                                                         smtp_sink: SmtpSink) -> None:
    system = embedded_system
    smtp_sink.fail_next(4)  # two attempts × two e-mails
    first = (await system.create_case(case_body(1)))["id"]
    await wait_for(lambda: len(smtp_sink.for_case(first)) == 2, 30, "delivery on the third try")
    assert smtp_sink.refusals == 4

    smtp_sink.fail_always()
    second = (await system.create_case(case_body(2)))["id"]

    async def dead() -> bool:
        return len(await system.bus.dead_letters("notifier")) == 1

    await wait_for(dead, 30, "dead letter")
    [letter] = await system.bus.dead_letters("notifier")
    assert letter.type == "case.deadline_set.v1" and letter.attempts == 3
    smtp_sink.fail_always(None)
    assert await system.bus.replay_dead_letters("notifier") == 1
    await wait_for(lambda: len(smtp_sink.for_case(second)) == 2, 30, "delivery after replay")
    await asyncio.sleep(0.5)
    assert_each_case_mailed_once(smtp_sink, [first, second])


async def test_embedded_restart_loses_nothing_accepted(embedded_settings: Settings, smtp_sink: SmtpSink,
                                                       tmp_path: Path) -> None:
    """Cases accepted while only intake ran are delivered once the whole system is back."""
    full = System(embedded_settings)
    only_intake = System(embedded_settings, services=("intake",))
    await only_intake.bus.start()
    await full.declare_bindings(only_intake.bus)
    await only_intake.start()
    ids = [(await only_intake.create_case(case_body(i)))["id"] for i in range(5)]
    await asyncio.sleep(0.5)
    await only_intake.stop()
    assert smtp_sink.count() == 0

    await full.start()
    try:
        await wait_for(lambda: smtp_sink.count() >= 10, 30, "10 e-mails after restart")
        await asyncio.sleep(0.5)
        assert_each_case_mailed_once(smtp_sink, ids)
    finally:
        await full.stop()
    assert (tmp_path / "var" / "bus.sqlite3").exists()
