"""RabbitMQ definitions for the deployment (deploy/rabbitmq/, ``atiende broker-definitions``).

Against the real broker at ``ATIENDE_TEST_AMQP_URL``, with ``rabbitmqctl`` on the default node:
the committed file is imported into a throw-away vhost (deleted afterwards), then the services'
own declarations must succeed on it (same queue arguments: no PRECONDITION_FAILED) and leave the
broker with exactly the file's queues, exchanges and bindings, and the ops policies applied."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import yaml

from atiende.cli import BROKER_DEFINITIONS, main
from atiende.contracts import service_subscriptions
from shared.messaging.definitions import default_retry_delays
from shared.messaging.rabbit import RabbitBus
from tests.conftest import AMQP_URL, _service_missing

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = ROOT / BROKER_DEFINITIONS
RABBITMQ_CONF = ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf"
COMPOSE_USER = ROOT / "deploy" / "rabbitmq" / "compose-user.json"
NAMESPACE = "atiende"


def ctl(*args: str, timeout: float = 30.0) -> str:
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True,
                          timeout=timeout).stdout


def import_definitions(doc: dict[str, Any]) -> None:
    # rabbitmqctl may run as the broker's user (and 3.10 does not read "-"): a readable temp file.
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as f:
        json.dump(doc, f)
        f.flush()
        os.chmod(f.name, 0o644)
        ctl("import_definitions", f.name)


def listing(what: str, vhost: str, *columns: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ctl(f"list_{what}", "-p", vhost, "-q", "--formatter", "json", *columns))
    return rows


def args(triples: list[list[Any]]) -> dict[str, Any]:
    return {k: v for k, _, v in triples}  # rabbitmqctl's [name, type, value]


def in_vhost(doc: dict[str, Any], vhost: str) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    doc["vhosts"] = [{"name": vhost}]
    for key in ("exchanges", "queues", "bindings", "policies", "permissions"):
        for item in doc.get(key, []):
            item["vhost"] = vhost
    return doc


def wait_until(cond: Any, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s  # import_definitions returns before the import is done
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.3)


@pytest.fixture
def vhost() -> Iterator[str]:
    """A fresh vhost on the default node that guest may use; deleted afterwards."""
    if shutil.which("rabbitmqctl") is None:
        _service_missing("rabbitmqctl", FileNotFoundError("rabbitmqctl"))
    name = f"atiende-defs-{uuid.uuid4().hex[:8]}"
    try:
        ctl("add_vhost", name)
    except (subprocess.SubprocessError, OSError) as exc:
        _service_missing("RabbitMQ (rabbitmqctl)", exc)
    try:
        ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        ctl("delete_vhost", name)




def queues_of(doc: dict[str, Any]) -> set[tuple[str, bool, str]]:
    return {(q["name"], q["durable"], json.dumps(q["arguments"], sort_keys=True)) for q in doc["queues"]}


def broker_queues(vhost: str) -> dict[str, dict[str, Any]]:
    return {q["name"]: q for q in listing("queues", vhost, "name", "durable", "policy", "arguments")}


State = tuple[set[tuple[str, bool, str]], set[tuple[str, str, str]], set[tuple[str, str, str]]]


def broker_state(vhost: str) -> State:
    queues = {(q["name"], q["durable"], json.dumps(args(q["arguments"]), sort_keys=True))
              for q in broker_queues(vhost).values()}
    exchanges = {(x["name"], x["type"], json.dumps(args(x["arguments"]), sort_keys=True))
                 for x in listing("exchanges", vhost, "name", "type", "arguments")
                 if x["name"] and not x["name"].startswith("amq.")}
    bindings = {(b["source_name"], b["destination_name"], b["routing_key"])
                for b in listing("bindings", vhost, "source_name", "destination_name", "routing_key")
                if b["source_name"]}  # the default exchange's implicit bindings are not definitions
    return queues, exchanges, bindings


def file_state(doc: dict[str, Any]) -> State:
    return (queues_of(doc),
            {(x["name"], x["type"], json.dumps(x["arguments"], sort_keys=True)) for x in doc["exchanges"]},
            {(b["source"], b["destination"], b["routing_key"]) for b in doc["bindings"]})


def test_committed_definitions_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    main(["broker-definitions", "--check"])  # exits 1 when stale
    assert "up to date" in capsys.readouterr().out


def test_check_exits_1_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "definitions.json"
    doc = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    doc["queues"].pop()
    stale.write_text(json.dumps(doc), encoding="utf-8")
    before = stale.read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["broker-definitions", "--check", "--output", str(stale)])
    assert exc.value.code == 1
    assert stale.read_text(encoding="utf-8") == before  # --check never writes
    main(["broker-definitions", "--output", str(stale)])
    assert stale.read_text(encoding="utf-8") == DEFINITIONS.read_text(encoding="utf-8")


def test_definitions_name_every_service_queue_with_its_declared_arguments() -> None:
    doc = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    queues = {q["name"]: q["arguments"] for q in doc["queues"]}
    delays = default_retry_delays()
    for service, types in service_subscriptions().items():
        main_q = queues[f"{NAMESPACE}.{service}.events"]
        assert main_q["x-queue-type"] == "quorum" and main_q["x-dead-letter-routing-key"] == f"{NAMESPACE}.{service}.dlq"
        assert len([q for q in queues if q.startswith(f"{NAMESPACE}.{service}.retry.")]) == len(delays)
        bound = {b["routing_key"] for b in doc["bindings"] if b["destination"] == f"{NAMESPACE}.{service}.events"}
        assert bound == set(types)


async def test_imported_definitions_match_what_the_services_declare(vhost: str) -> None:
    doc = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    import_definitions(in_vhost(doc, vhost))
    expected = file_state(doc)
    wait_until(lambda: broker_state(vhost) == expected, "the import to complete")

    # The services' own declarations (as `atiende migrate` and each service's start run them) on
    # the imported broker: a differing argument would fail with PRECONDITION_FAILED here.
    bus = RabbitBus(AMQP_URL.rsplit("/", 1)[0] + "/" + quote(vhost, safe=""), NAMESPACE,
                    retry_delays_s=default_retry_delays())
    await asyncio.wait_for(bus.start(), 10)
    try:
        for service, types in (await asyncio.to_thread(service_subscriptions)).items():  # it runs its own loop
            await asyncio.wait_for(bus.declare(service, types), 10)
        listener = f"{NAMESPACE}.intake.cache.{uuid.uuid4().hex[:8]}"

        async def ignore(_: Any) -> None:
            return None

        await asyncio.wait_for(bus.listen(listener.removeprefix(f"{NAMESPACE}."), ["catalog.#"], ignore), 10)
        queues, exchanges, bindings = await asyncio.to_thread(broker_state, vhost)
        extra = {q for q in queues if q[0] == listener}
        assert queues - extra == expected[0]  # nothing missing, nothing added
        assert exchanges == expected[1]
        assert bindings - {(f"{NAMESPACE}.events", listener, "catalog.#")} == expected[2]

        # The ops policies apply to the unrouted queue and the replica's listener, and to nothing else.
        policy_of = {name: q["policy"] for name, q in (await asyncio.to_thread(broker_queues, vhost)).items()}
        assert policy_of.pop(f"{NAMESPACE}.unrouted") == f"{NAMESPACE}.unrouted-bounded"
        assert policy_of.pop(listener) == f"{NAMESPACE}.listeners"
        assert set(policy_of.values()) == {""}
    finally:
        await bus.close()


def test_policies_are_imported(vhost: str) -> None:
    doc = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    import_definitions(in_vhost(doc, vhost))
    wanted = {p["name"]: p for p in doc["policies"]}
    wait_until(lambda: {p["name"] for p in listing("policies", vhost)} == set(wanted), "the policies")
    for p in listing("policies", vhost):
        assert p["pattern"] == wanted[p["name"]]["pattern"]
        assert json.loads(p["definition"]) == wanted[p["name"]]["definition"]
    unrouted = wanted[f"{NAMESPACE}.unrouted-bounded"]["definition"]
    assert unrouted["overflow"] == "drop-head" and unrouted["max-length"] > 0


def test_compose_loads_the_definitions_and_keeps_its_user(vhost: str) -> None:
    """A blank node importing definitions at boot creates no default user: compose's user must
    be in a definitions file, with the password ATIENDE_AMQP_URL uses."""
    folder = re.search(r"^definitions\.local\.path\s*=\s*(\S+)", RABBITMQ_CONF.read_text(encoding="utf-8"), re.M)
    assert folder and re.search(r"^definitions\.import_backend\s*=\s*local_filesystem$",
                                RABBITMQ_CONF.read_text(encoding="utf-8"), re.M)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = compose["services"]["rabbitmq"]["volumes"]
    assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/20-atiende.conf:ro" in mounts
    targets = {m.split(":")[0]: m.split(":")[1] for m in mounts if m.startswith("./")}
    for source in ("./deploy/rabbitmq/definitions.json", "./deploy/rabbitmq/compose-user.json"):
        assert targets[source].startswith(folder.group(1).rstrip("/") + "/") and targets[source].endswith(".json")

    url = urlsplit(compose["x-atiende-env"]["ATIENDE_AMQP_URL"])
    user_doc = json.loads(COMPOSE_USER.read_text(encoding="utf-8"))
    (user,) = user_doc["users"]
    assert user["name"] == url.username and user_doc["permissions"][0]["vhost"] == (url.path.lstrip("/") or "/")
    # The hash must accept compose's password: import it under a throw-away name and log in.
    name = f"atiende-defs-{uuid.uuid4().hex[:8]}"
    user_doc = in_vhost(user_doc, vhost)
    user_doc["users"][0]["name"] = user_doc["permissions"][0]["user"] = name
    try:
        import_definitions(user_doc)
        wait_until(lambda: name in ctl("list_users", "-q"), "the user")
        ctl("authenticate_user", name, str(url.password))  # raises on a wrong hash
    finally:
        subprocess.run(["rabbitmqctl", "delete_user", name], capture_output=True, timeout=30)
