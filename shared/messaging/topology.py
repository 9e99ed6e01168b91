r"""Broker topology: every name ops see in RabbitMQ's management dashboard comes from here.

    publishers ──► <ns>.events (topic, durable) ──routing key = event type──┐
                      │ alternate-exchange                                 │ one binding per
                      ▼                                                    ▼ subscribed type
               <ns>.unrouted (fanout) ─► <ns>.unrouted (queue)     <ns>.<svc>.events (quorum)
                                                                      │  ▲
              handler fails (attempt n < max) ─ default exchange ─►   │  │ TTL expires:
                      <ns>.<svc>.retry.<delay> (quorum, x-message-ttl) ┘──┘ dead-lettered back
              attempts exhausted, permanent error, or delivery-limit hit:
                      <ns>.<svc>.dlq (quorum, no consumer; `atiende dlq` lists and replays)

Per-replica listeners (``Bus.listen``, e.g. intake's catalog cache):

    <ns>.events ──catalog.#──► <ns>.intake.cache.<replica-id> (classic, exclusive, auto-delete)

Retry queues are addressed through the default exchange, so a retried message goes back to its
own service only. Each retry queue has a fixed TTL (a per-message TTL would only expire at the
queue head). Queue arguments cannot change once declared (PRECONDITION_FAILED): a new retry
delay is a new queue name, never a changed argument."""

from __future__ import annotations

from dataclasses import dataclass

# Redeliveries without an ack (a consumer crashing on the message) before RabbitMQ dead-letters it.
DELIVERY_LIMIT = 20


def delay_label(seconds: float) -> str:
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    if seconds < 3600 or seconds % 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


@dataclass(frozen=True)
class Topology:
    namespace: str

    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def unrouted(self) -> str:
        return f"{self.namespace}.unrouted"

    def queue(self, service: str) -> str:
        return f"{self.namespace}.{service}.events"

    def retry_queue(self, service: str, delay_s: float) -> str:
        return f"{self.namespace}.{service}.retry.{delay_label(delay_s)}"

    def dead_letter_queue(self, service: str) -> str:
        return f"{self.namespace}.{service}.dlq"

    def listener_queue(self, name: str) -> str:
        """A replica's transient queue (``name`` = ``<svc>.<purpose>.<replica-id>``)."""
        return f"{self.namespace}.{name}"


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: words split on dots, ``*`` is one word, ``#`` zero or more."""
    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] in ("*", k[0])) and match(p[1:], k[1:])

    return match(pattern.split("."), routing_key.split("."))
