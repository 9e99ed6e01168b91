"""Prometheus metrics (issue 15): every service's GET /metrics, in the text exposition format,
shows its own series — HTTP by route template, events handled with their lag, retries, outbox
gauges, deliveries by channel and state, timers — on RabbitMQ and in one embedded process.

The series live in one registry per process (shared/metrics.py), so counters carry over from
earlier tests in this process: the checks compare with what was there before, or ask ≥ 1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import func, select

from services.workflow.adapters.db import case_deadlines, timers
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System, case_body, wait_for

SERVICES = ("intake", "workflow", "notifier", "reporting")


async def scrape(system: System, service: str) -> list[Sample]:
    r = await system.clients[service].get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(r.text) for s in family.samples]


def matching(samples: list[Sample], name: str, **labels: str) -> Iterator[Sample]:
    return (s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in matching(samples, name, **labels))


async def test_each_service_shows_its_pipeline_metrics(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    s = rabbit_system
    before = await scrape(s, "notifier")
    retries_before = total(before, "atiende_retries_total", type="case.deadline_set.v1")
    smtp_sink.fail_next(2)  # the first attempt at the case's two e-mails fails: one retry
    case = await s.create_case(case_body(1))
    await wait_for(lambda: len(smtp_sink.for_case(case["id"])) == 2, 30, "the e-mails after a retry")
    r = await s.intake.get(f"/cases/{case['id']}", headers=await s.auth())
    assert r.status_code == 200

    got = {name: await scrape(s, name) for name in SERVICES}
    intake = got["intake"]
    # HTTP: by route template, never by the raw path (ids would make a series per case).
    assert total(intake, "atiende_http_request_duration_seconds_count", route="/cases", method="POST",
                 status="2xx") >= 1
    assert total(intake, "atiende_http_request_duration_seconds_count", route="/cases/{case_id}", method="GET") >= 1
    assert not [x for x in intake if case["id"] in x.labels.get("route", "")]
    assert all(x.labels.get("service", "intake") == "intake" for x in intake)  # its own series only

    for name in ("workflow", "notifier", "reporting"):
        samples = got[name]
        assert total(samples, "atiende_events_handled_total", type="case.created.v1", outcome="ok") >= 1, name
        assert total(samples, "atiende_event_lag_seconds_count", type="case.created.v1") >= 1, name
        assert total(samples, "atiende_event_handling_seconds_count", type="case.created.v1", outcome="ok") >= 1
    for name in SERVICES:  # the outbox gauges, read when scraped
        assert list(matching(got[name], "atiende_outbox_waiting", service=name)), name
        assert list(matching(got[name], "atiende_outbox_oldest_age_seconds", service=name)), name

    notifier = got["notifier"]
    assert total(notifier, "atiende_deliveries_total", channel="email", state="sent") >= 2
    assert total(notifier, "atiende_retries_total", type="case.deadline_set.v1") >= retries_before + 1
    assert total(notifier, "atiende_events_handled_total", type="case.deadline_set.v1", outcome="retry") >= 1
    # Settled by now: the gauge is described, with no series left above zero.
    assert "# TYPE atiende_deliveries_unsettled gauge" in (await s.clients["notifier"].get("/metrics")).text
    assert total(notifier, "atiende_deliveries_unsettled") == 0

    workflow = got["workflow"]
    assert [x.value for x in matching(workflow, "atiende_timers_due", service="workflow")] == [0.0]
    assert "# TYPE atiende_timer_firing_lag_seconds histogram" in (await s.clients["workflow"].get("/metrics")).text


async def test_timer_firing_lag_and_sla_breaches(rabbit_system: System) -> None:
    """R4.8: the deadline passes, workflow's timer fires a minute late (time travel): its firing
    lag is observed, and reporting counts the breach the dashboard shows."""
    s = rabbit_system
    before = await scrape(s, "workflow")
    fired_before = total(before, "atiende_timer_firing_lag_seconds_count")
    breaches_before = total(await scrape(s, "reporting"), "atiende_events_handled_total",
                            type="case.clock_breached.v1", outcome="ok")
    await s.create_case(case_body(4))
    wf = s.rt["workflow"]

    async def armed() -> bool:
        async with wf.db.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(timers))).scalar_one() >= 1

    await wait_for(armed, 20, "the case's timers armed")
    async with wf.db.engine.connect() as conn:
        due = (await conn.execute(select(func.max(case_deadlines.c.due_at)))).scalar_one()
    s.travel_to(due + timedelta(minutes=1))

    async def fired() -> bool:
        return total(await scrape(s, "workflow"), "atiende_timer_firing_lag_seconds_count") > fired_before

    await wait_for(fired, 20, "a timer fired")
    after = await scrape(s, "workflow")
    lag = total(after, "atiende_timer_firing_lag_seconds_sum") - total(before, "atiende_timer_firing_lag_seconds_sum")
    assert lag >= 60, lag  # at least the minute travelled past the due time

    async def breach_counted() -> bool:
        return total(await scrape(s, "reporting"), "atiende_events_handled_total", type="case.clock_breached.v1",
                     outcome="ok") > breaches_before

    await wait_for(breach_counted, 20, "reporting counted the SLA breach")


async def test_dead_letters_are_counted(rabbit_system: System, smtp_sink: SmtpSink) -> None:
    s = rabbit_system
    before = total(await scrape(s, "notifier"), "atiende_dead_letters_total", type="case.deadline_set.v1")
    smtp_sink.fail_always()
    await s.create_case(case_body(2))

    async def dead() -> bool:
        return len(await s.bus.dead_letters("notifier")) == 1

    await wait_for(dead, 30, "the message in the notifier's DLQ")
    after = await scrape(s, "notifier")
    assert total(after, "atiende_dead_letters_total", type="case.deadline_set.v1") == before + 1
    assert total(after, "atiende_events_handled_total", type="case.deadline_set.v1", outcome="dead") >= 1


async def test_metrics_is_not_in_the_schema(rabbit_system: System) -> None:
    for name in SERVICES:
        paths = (await rabbit_system.clients[name].get("/openapi.json")).json()["paths"]
        assert "/metrics" not in paths


async def test_embedded_services_keep_their_series_apart(embedded_system: System, smtp_sink: SmtpSink) -> None:
    """Four services in one process: one definition of each metric, each /metrics its own."""
    s = embedded_system
    case = await s.create_case(case_body(3))
    await wait_for(lambda: len(smtp_sink.for_case(case["id"])) == 2, 30, "the case's e-mails")
    for name in SERVICES:
        samples = await scrape(s, name)
        services = {x.labels["service"] for x in samples if "service" in x.labels}
        assert services == {name}, (name, services)
        assert list(matching(samples, "atiende_outbox_waiting"))
    assert total(await scrape(s, "notifier"), "atiende_deliveries_total", channel="email", state="sent") >= 2
    assert total(await scrape(s, "workflow"), "atiende_events_handled_total", type="case.created.v1",
                 outcome="ok") >= 1
