"""Event contracts for consumers outside Atiende, generated from the models (never by hand).

Two views of the same contracts, both pure functions of ``EVENT_TYPES``, the ``Envelope`` and who
consumes what, so the same input always gives the same bytes:

- ``event_schema(type)``: one JSON Schema (draft 2020-12) per event type and version: the whole
  envelope as it travels, with that type's ``data`` inlined (``docs/events/schemas/<type>.json``).
- ``asyncapi_document(subscriptions)``: an AsyncAPI 3.0 document: one channel per event type (its
  address is the routing key on ``<ns>.events``), one message per type whose payload is the
  envelope with that type's data, a ``send`` operation by the producing service and a ``receive``
  operation by each consumer (``docs/asyncapi.yaml``).

Who consumes what is each service's handler table (what ``tests/test_event_routing.py`` checks);
services do not import each other, so ``atiende contracts`` (``atiende/contracts.py``) writes it
to ``subscriptions.json`` beside this module, and reporting serves the document from there.
``tests/test_event_contracts.py`` regenerates everything and compares it with the committed files.

The published schemas are open: ``additionalProperties: false`` (our own models forbid extra
fields) is left out, because a consumer validating with a ``.v1`` schema must keep accepting
``.v1`` events after an additive change (docs/events.md: the versioning rule)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.contracts.envelope import Envelope
from shared.contracts.events import EVENT_TYPES
from shared.messaging.topology import Topology, topic_matches

ASYNCAPI_VERSION = "3.0.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
AMQP_BINDING_VERSION = "0.3.0"
SUBSCRIPTIONS_FILE = Path(__file__).with_name("subscriptions.json")

# Who publishes each type (docs/architecture.md, "publishes"): the first service with a matching
# pattern. workflow's and notifier's types come first because intake publishes "case.*" but those.
PRODUCERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("workflow", ("case.deadline_set.v1", "case.sla_changed.v1", "case.hold_set.v1", "case.sla_warning.v1",
                  "case.clock_met.v1", "case.clock_breached.v1", "case.overdue.v1", "case.escalated.v1",
                  "alert.#")),
    ("notifier", ("notification.#",)),
    ("intake", ("user.#", "catalog.#", "party.#", "asset.#", "interaction.#", "case.#", "task.#", "workorder.#",
                "activity.#", "attachment.#")),
)

# What each envelope attribute means, for someone who never read our code.
ENVELOPE_FIELDS: dict[str, str] = {
    "specversion": "CloudEvents version of the envelope.",
    "id": "Unique event id; also the AMQP message_id. Deduplicate on it: a redelivery carries the same id.",
    "source": "The publishing service, atiende/<service>.",
    "type": "<aggregate>.<fact>.v<N>: the contract and its version; also the routing key and the AMQP type.",
    "subject": "What the event is about, usually the aggregate's id (a case id); null when none.",
    "time": "When the event happened (RFC 3339, UTC).",
    "datacontenttype": "Always application/json.",
    "tenant": "The tenant (organisation) the event belongs to. Never mix tenants' data.",
    "correlationid": "Id shared by every event that followed from one request; null on a first event.",
    "causationid": "Id of the event that caused this one; null when a person or a timer did.",
    "sequence": "The event's place in its subject's history as the source numbers it (a case's version "
                "after this change: 1 for case.created, then +1 without gaps); null: not ordered.",
    "data": "The event's payload: its schema is the type's.",
}

_TYPE = re.compile(r"^(?P<name>[a-z_]+\.[a-z_]+)\.v(?P<version>[0-9]+)$")


def split_type(event_type: str) -> tuple[str, int]:
    """``case.created.v1`` → (``case.created``, 1)."""
    m = _TYPE.fullmatch(event_type)
    if m is None:
        raise ValueError(f"not a versioned event type: {event_type!r}")
    return m["name"], int(m["version"])


def producer_of(event_type: str) -> str:
    """The service that publishes ``event_type`` (``PRODUCERS``)."""
    for service, patterns in PRODUCERS:
        if any(topic_matches(p, event_type) for p in patterns):
            return service
    raise ValueError(f"no producer declared for {event_type!r}")


def schema_id(event_type: str) -> str:
    """The stable ``$id`` of a type's JSON Schema (a URN: it does not depend on where it is served)."""
    return f"urn:atiende:event:{event_type}"


def _published(node: Any) -> Any:
    """A pydantic schema as we publish it: open objects (see the module's docstring), and local
    times as a pattern (JSON Schema's "time" format demands a UTC offset; ours are wall-clock)."""
    if isinstance(node, list):
        return [_published(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _published(v) for k, v in node.items() if not (k == "additionalProperties" and v is False)}
    if out.get("format") == "time":
        del out["format"]
        out["pattern"] = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"
        out.setdefault("description", "Local wall-clock time, HH:MM[:SS].")
    return out


def _payload_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A payload model's schema (``#/$defs/...`` references) and its ``$defs``."""
    raw = _published(model.model_json_schema(ref_template="#/$defs/{model}"))
    defs = raw.pop("$defs", {})
    return raw, defs


def _generic_envelope() -> dict[str, Any]:
    """The envelope every event travels in: every attribute is present on the wire (null when it
    has no value)."""
    props: dict[str, Any] = {}
    for name, prop in Envelope.model_json_schema()["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("default", "title")}
        props[name] = {**prop, "description": ENVELOPE_FIELDS[name]}
    for name in ("specversion", "datacontenttype"):  # fixed values
        props[name] = {"const": Envelope.model_fields[name].default, "description": ENVELOPE_FIELDS[name]}
    props["source"] = {"type": "string", "pattern": r"^atiende/[a-z]+$", "description": ENVELOPE_FIELDS["source"]}
    props["type"] = {"type": "string", "pattern": _TYPE.pattern, "description": ENVELOPE_FIELDS["type"]}
    return {"type": "object", "required": list(props), "properties": props}


def _specific(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """What one type fixes in the envelope: its ``type``, its ``source`` and its ``data``."""
    return {"source": {"const": f"atiende/{producer_of(event_type)}", "description": ENVELOPE_FIELDS["source"]},
            "type": {"const": event_type, "description": ENVELOPE_FIELDS["type"]},
            "data": data}


def _envelope_schema(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The envelope of ``event_type`` in one schema (a type's JSON Schema file)."""
    generic = _generic_envelope()
    generic["properties"].update(_specific(event_type, data))
    return generic


def _summary(model: type[BaseModel], event_type: str) -> str:
    doc = (model.__doc__ or "").strip()
    return " ".join(doc.split()) if doc else f"{event_type} ({model.__name__})."


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event type and version: the whole envelope, ``data`` inlined."""
    model = EVENT_TYPES[event_type]
    data, defs = _payload_schema(model)
    name, version = split_type(event_type)
    out: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_id(event_type), "title": event_type,
                           "description": _summary(model, event_type),
                           "x-event": {"name": name, "version": version, "producer": producer_of(event_type)}}
    out.update(_envelope_schema(event_type, data))
    if defs:
        out["$defs"] = dict(sorted(defs.items()))
    return out


def _rewrite_refs(node: Any, names: Mapping[str, str]) -> Any:
    """``#/$defs/X`` → ``#/components/schemas/<names[X]>``."""
    if isinstance(node, list):
        return [_rewrite_refs(x, names) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _rewrite_refs(v, names) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        out["$ref"] = f"#/components/schemas/{names[ref.removeprefix('#/$defs/')]}"
    return out


class Components:
    """AsyncAPI ``components/schemas`` filled from payload models, with their ``$defs`` hoisted.

    The same name with the same schema is shared (``CaseTransition`` serves five types); a
    different schema under a name already taken gets ``<Model><Name>`` (then a number), so two
    models' ``Item`` never overwrite each other, and the references of each model follow its names."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self._raw: dict[str, Any] = {}  # final name → the schema as pydantic made it (to compare)

    def add(self, model: type[BaseModel]) -> str:
        """Hoist ``model`` and its ``$defs``; returns the name ``model`` got."""
        data, defs = _payload_schema(model)
        parts = {**defs, model.__name__: data}
        names: dict[str, str] = {}
        for name, schema in parts.items():
            final, n = name, 1
            while final in self._raw and self._raw[final] != schema:
                n += 1
                final = f"{model.__name__}{name}" + (str(n) if n > 2 else "")
            names[name] = final
        for name, schema in parts.items():
            if names[name] not in self._raw:
                self._raw[names[name]] = schema
                self.schemas[names[name]] = _rewrite_refs(schema, names)
        return names[model.__name__]


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(path)}


def _amqp(**binding: Any) -> dict[str, Any]:
    return {"amqp": {**binding, "bindingVersion": AMQP_BINDING_VERSION}}


def _message(event_type: str, producer: str, consumers: list[str]) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    name, version = split_type(event_type)
    summary = _summary(model, event_type)
    return {"name": event_type, "title": f"{name} (v{version})",
            "summary": summary.split(". ")[0].rstrip(".") + ".", "description": summary,
            "contentType": "application/json", "payload": _ref("components", "schemas", event_type),
            "correlationId": {"location": "$message.payload#/correlationid"},
            "bindings": _amqp(messageType=event_type),  # the AMQP ``type`` property
            "x-producer": producer, "x-consumers": consumers, "x-json-schema": f"events/schemas/{event_type}.json"}


def _channel(event_type: str, topo: Topology) -> dict[str, Any]:
    exchange = {"name": topo.events_exchange, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}
    return {"address": event_type, "title": event_type,
            "description": f"Routing key {event_type} on the topic exchange {topo.events_exchange}.",
            "messages": {event_type: _ref("components", "messages", event_type)},
            "bindings": _amqp(**{"is": "routingKey", "exchange": exchange})}


def _operations(event_type: str, producer: str, consumers: list[str], topo: Topology) -> dict[str, Any]:
    """The producer's ``send`` and each consumer's ``receive`` of one channel (key = the type)."""
    on = {"channel": _ref("channels", event_type), "messages": [_ref("channels", event_type, "messages", event_type)]}
    out = {f"{producer}.send.{event_type}": {
        "action": "send", **on,
        "summary": f"{producer} publishes {event_type} (persistent, mandatory, with publisher confirms).",
        "bindings": _amqp(deliveryMode=2, mandatory=True), "x-service": producer}}
    for service in consumers:
        out[f"{service}.receive.{event_type}"] = {
            "action": "receive", **on,
            "summary": f"{service} consumes {event_type} from its queue {topo.queue(service)}.",
            "bindings": _amqp(ack=True), "x-service": service, "x-queue": topo.queue(service)}
    return out


def _info(namespace: str, topo: Topology, digest: str) -> dict[str, Any]:
    return {
        "title": "Atiende events",
        "version": f"1.0.0+{digest}",  # the document's own version: changes whenever any contract does
        "description": (
            f"Every event Atiende's services publish, on the topic exchange `{topo.events_exchange}` "
            "(durable; routing key = the event type). Each message is a CloudEvents-like JSON envelope; "
            "`type` carries the contract's version (`case.created.v1`): a breaking change is a new `.vN` "
            "published beside the old one. Bind your own quorum queue "
            f"(`{namespace}.<consumer>.events`) with the types or patterns you need (`case.#`), "
            "deduplicate on the envelope `id` and ignore unknown fields. See docs/events.md."),
        "license": {"name": "Proprietary"}}


SERVERS = {
    "compose": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                "description": "RabbitMQ inside the docker compose network (vhost /)."},
    "local": {"host": "127.0.0.1:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
              "description": "RabbitMQ published on the host by docker compose (vhost /)."}}


def asyncapi_document(subscriptions: Mapping[str, Sequence[str]], namespace: str = "atiende") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event type. ``subscriptions``: service → the event types
    its queue is bound to (``load_subscriptions()``); ``namespace``: the deployment's
    (``ATIENDE_NAMESPACE``), which names the exchange and the queues."""
    topo = Topology(namespace)
    consumers: dict[str, list[str]] = {t: [] for t in EVENT_TYPES}
    for service in sorted(subscriptions):
        for t in subscriptions[service]:
            if t not in consumers:
                raise ValueError(f"{service} subscribes to {t!r}, which is not in EVENT_TYPES")
            consumers[t].append(service)
    components = Components()
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    envelopes: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for event_type in sorted(EVENT_TYPES):
        producer = producer_of(event_type)
        data = _ref("components", "schemas", components.add(EVENT_TYPES[event_type]))
        # A message's payload: the common envelope with what this type fixes.
        envelopes[event_type] = {"allOf": [_ref("components", "schemas", "Envelope"),
                                           {"type": "object", "properties": _specific(event_type, data)}]}
        messages[event_type] = _message(event_type, producer, consumers[event_type])
        channels[event_type] = _channel(event_type, topo)
        operations.update(_operations(event_type, producer, consumers[event_type], topo))
    if "Envelope" in components.schemas:
        raise ValueError("a payload model may not be called Envelope")
    schemas = dict(sorted({**components.schemas, "Envelope": _generic_envelope()}.items()))
    body = {"channels": channels, "operations": dict(sorted(operations.items())),
            "components": {"schemas": {**schemas, **envelopes}, "messages": messages}}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return {"asyncapi": ASYNCAPI_VERSION, "id": "urn:atiende:events", "info": _info(namespace, topo, digest),
            "defaultContentType": "application/json", "servers": SERVERS, **body}


def load_subscriptions(path: Path = SUBSCRIPTIONS_FILE) -> dict[str, list[str]]:
    """service → the event types its queue is bound to, as ``atiende contracts`` last wrote it."""
    return dict(json.loads(path.read_text(encoding="utf-8")))


def to_json(doc: Any) -> str:
    """The bytes we commit and serve: stable key order (as built), UTF-8, a final newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def yaml_available() -> bool:
    """PyYAML is a test/tooling dependency, not a runtime one: the YAML view is optional."""
    try:
        import yaml  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def to_yaml(doc: Any) -> str:
    import yaml

    class PlainDumper(yaml.SafeDumper):
        """No anchors and aliases (``&id001``): each part of the document reads on its own."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return str(yaml.dump(doc, Dumper=PlainDumper, sort_keys=False, allow_unicode=True, width=110))


def contract_files(subscriptions: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Every generated file, path relative to the repository root → its text (``atiende contracts``
    writes them; the drift test compares them)."""
    files = {"docs/asyncapi.yaml": to_yaml(asyncapi_document(subscriptions))}
    for event_type in sorted(EVENT_TYPES):
        files[f"docs/events/schemas/{event_type}.json"] = to_json(event_schema(event_type))
    files["shared/contracts/subscriptions.json"] = to_json({s: sorted(subscriptions[s]) for s in sorted(subscriptions)})
    return files
