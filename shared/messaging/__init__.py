"""Messaging: one ``Bus`` port with two adapters.

- ``RabbitBus`` (real deployment): aio-pika, publisher confirms, quorum queues, retry queues
  and a dead-letter queue per service. Topology in ``topology.py``.
- ``LocalBus`` (embedded mode): the same semantics (routing by event type, retries with delay,
  dead letters, replay) in a SQLite file, inside one process.

Both deliver to an ``EventProcessor`` (``processor.py``), which owns the inbox: handling a
message twice has the effect of handling it once."""
