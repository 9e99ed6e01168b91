"""``atiende contracts``: write the event contracts consumers read (docs/asyncapi.yaml,
docs/events/schemas/*.json) and the subscriptions table reporting serves them from.

Who consumes what comes from the services' own handler tables, read from runtimes built as
`atiende run` builds them (embedded settings in a throwaway folder: nothing is connected)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterable
from pathlib import Path

from shared.contracts.asyncapi import contract_files
from shared.runtime import ServiceRuntime
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def service_subscriptions() -> dict[str, list[str]]:
    """service → the event types its durable queue is bound to (``EventProcessor.event_types``)."""
    from atiende.cli import _builders

    with tempfile.TemporaryDirectory() as tmp:
        # Any secret will do: the runtimes are only asked what they handle.
        settings = Settings(database_url="", amqp_url="", data_dir=Path(tmp),
                            token_secret="contracts-only-" + "x" * 32)
        runtimes = {name: build(settings) for name, build in _builders().items()}
        out = {name: list(rt.processor.event_types) for name, rt in runtimes.items()}
        asyncio.run(_dispose(runtimes.values()))
    return out


async def _dispose(runtimes: Iterable[ServiceRuntime]) -> None:
    for rt in runtimes:
        await rt.db.dispose()


def generated_files() -> dict[str, str]:
    """Every contract file, path relative to the repository root → its text."""
    return contract_files(service_subscriptions())


def write(root: Path = ROOT, check: bool = False) -> list[str]:
    """Write the files that changed and remove schemas no type has any more (or, with ``check``,
    only name them); returns those paths."""
    files = generated_files()
    changed = []
    for rel, text in files.items():
        path = root / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        changed.append(rel)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in sorted((root / "docs" / "events" / "schemas").glob("*.json")):
        rel = path.relative_to(root).as_posix()
        if rel not in files:
            changed.append(rel)
            if not check:
                path.unlink()
    return changed
