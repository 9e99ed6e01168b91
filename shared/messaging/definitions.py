"""RabbitMQ definitions (``deploy/rabbitmq/definitions.json``) for the topology the services declare.

No second list of names or arguments: ``RabbitBus.declare`` itself is run against a recording
channel, so the file holds exactly the exchanges, queues (with their x-arguments) and bindings a
service declares at start or ``atiende migrate`` declares at deploy time. A broker loaded from
the file then accepts the services' own declarations (same arguments: no PRECONDITION_FAILED).

Policies hold only what the code does not declare (policies and x-arguments both apply to a
queue; for the same key the queue's argument wins, so a policy there would be dead or confusing):

- ``<ns>.unrouted``: bounded (max-length, max-length-bytes, overflow drop-head). Events nobody
  is bound to land there through the alternate exchange; a mis-published flood must not fill the
  disk. drop-head, not reject-publish: a rejected message would nack the publisher's confirm and
  stall its outbox on an event nobody reads; the newest unrouted events are the useful ones.
- per-replica listener queues (``<ns>.<svc>.<purpose>.<replica-id>``, classic, exclusive,
  auto-delete): expire when unused and stay bounded. They already go with their connection; the
  policy covers a listener whose consumer is stuck (its effect tolerates missed events, see
  ``RabbitBus.listen``) and any such queue left behind.

Users are not in the file: definitions carry password hashes, and credentials are a deployment's
own (see deploy/README.md)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.messaging.rabbit import RabbitBus
from shared.messaging.topology import Topology

UNROUTED_MAX_LENGTH = 100_000
UNROUTED_MAX_BYTES = 256 * 1024 * 1024
LISTENER_EXPIRES_MS = 30 * 60 * 1000
LISTENER_MAX_LENGTH = 10_000


class _Recorder:
    """Stands in for an aio-pika connection, channel, exchange and queue: records declarations."""

    def __init__(self) -> None:
        self.exchanges: dict[str, dict[str, Any]] = {}
        self.queues: dict[str, dict[str, Any]] = {}
        self.bindings: list[dict[str, Any]] = []

    async def channel(self) -> _Recorder:
        return self

    async def close(self) -> None:
        return None

    async def declare_exchange(self, name: str, type_: Any, durable: bool = False, auto_delete: bool = False,
                               internal: bool = False, arguments: dict[str, Any] | None = None) -> _Named:
        self.exchanges[name] = {"name": name, "type": str(getattr(type_, "value", type_)), "durable": durable,
                                "auto_delete": auto_delete, "internal": internal, "arguments": dict(arguments or {})}
        return _Named(self, name)

    async def declare_queue(self, name: str, durable: bool = False, exclusive: bool = False,
                            auto_delete: bool = False, arguments: dict[str, Any] | None = None) -> _Named:
        if exclusive:
            raise ValueError(f"exclusive queue {name} cannot be predefined")
        self.queues[name] = {"name": name, "durable": durable, "auto_delete": auto_delete,
                             "arguments": dict(arguments or {})}
        return _Named(self, name)


class _Named:
    def __init__(self, rec: _Recorder, name: str) -> None:
        self.rec, self.name = rec, name

    async def bind(self, exchange: Any, routing_key: str | None = None,
                   arguments: dict[str, Any] | None = None) -> None:
        source = exchange if isinstance(exchange, str) else exchange.name
        routing_key = self.name if routing_key is None else routing_key  # as aio-pika's Queue.bind
        self.rec.bindings.append({"source": source, "destination": self.name, "destination_type": "queue",
                                  "routing_key": routing_key, "arguments": dict(arguments or {})})


def default_retry_delays() -> list[float]:
    """The retry delays a service uses unless ATIENDE_RETRY_DELAYS_S says otherwise."""
    from shared.settings import Settings

    delays: list[float] = Settings.model_fields["retry_delays_s"].get_default(call_default_factory=True)
    return delays


def _record(subscriptions: Mapping[str, Sequence[str]], namespace: str, retry_delays_s: list[float]) -> _Recorder:
    rec = _Recorder()
    bus = RabbitBus("amqp://recording-only/", namespace, retry_delays_s=retry_delays_s)
    bus._conn = rec  # type: ignore[assignment]  # declare() asks it for a channel: ours records

    async def declare_all() -> None:
        for service in sorted(subscriptions):
            await bus.declare(service, list(subscriptions[service]))

    asyncio.run(declare_all())
    return rec


def policies(namespace: str, vhost: str) -> list[dict[str, Any]]:
    ns = re.escape(namespace)
    return [
        {"vhost": vhost, "name": f"{namespace}.unrouted-bounded", "pattern": f"^{ns}\\.unrouted$",
         "apply-to": "queues", "priority": 10,
         "definition": {"max-length": UNROUTED_MAX_LENGTH, "max-length-bytes": UNROUTED_MAX_BYTES,
                        "overflow": "drop-head"}},
        # <ns>.<svc>.<purpose>.<replica-id>: the replica id is 8 hex digits (ServiceRuntime.replica_id).
        {"vhost": vhost, "name": f"{namespace}.listeners", "pattern": f"^{ns}\\.[^.]+\\.[^.]+\\.[0-9a-f]{{8}}$",
         "apply-to": "queues", "priority": 10,
         "definition": {"expires": LISTENER_EXPIRES_MS, "max-length": LISTENER_MAX_LENGTH,
                        "overflow": "drop-head"}},
    ]


def definitions(subscriptions: Mapping[str, Sequence[str]], *, namespace: str = "atiende", vhost: str = "/",
                retry_delays_s: list[float]) -> dict[str, Any]:
    """RabbitMQ's definitions document for ``subscriptions`` (service → bound event types)."""
    rec = _record(subscriptions, namespace, retry_delays_s)
    pols = policies(namespace, vhost)
    for p in pols:  # a policy never touches a queue the code declares (its arguments stay the only ones)
        hits = [q for q in rec.queues if re.search(p["pattern"], q) and q != Topology(namespace).unrouted]
        if hits:
            raise AssertionError(f"policy {p['name']} would apply to declared queues {hits}")
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [{**x, "vhost": vhost} for _, x in sorted(rec.exchanges.items())],
        "queues": [{**q, "vhost": vhost} for _, q in sorted(rec.queues.items())],
        "bindings": [{**b, "vhost": vhost} for _, b in sorted(  # each service re-declares the shared ones
            {(b["source"], b["destination"], b["routing_key"]): b for b in rec.bindings}.items())],
        "policies": pols,
    }


def to_text(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
