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
