"""In-app notifications (issue 11 item 3): stored per user, told live to the user's open streams.

Who is told (R4.7 by default): on case.created, executed, finished, commented and mail_requested,
the case's responsible only, and never the person who did it (``by == responsible``: nobody).
On case.escalated and case.sla_warning, each recipient workflow chose whose channels include
``in_app``. Texts are in the user's language (the user directory; the case's language for a user
the directory does not know yet).

``in_app_for(tx, env)`` runs in the handler's transaction (composed into ``build_handlers`` by
``with_in_app``; for a two-phase e-mail handler, in its ``record`` phase): one row per (event,
user), so a redelivered event (or a ``record`` run again) stores and announces nothing twice.
Each stored row emits ``notification.in_app.v1`` through the outbox.

Live: every notifier replica listens on its own queue ``<ns>.notifier.live.<replica-id>``
(exclusive, auto-delete, bound to ``notification.in_app.v1``; ``ServiceRuntime.listen``), so the
replica holding a user's stream pushes the notification whichever replica stored it. In embedded
mode the in-process bus calls the same listener. ``LiveHub`` keeps this replica's open streams.
A stream that misses events (its queue full, or the broker reconnecting) is made whole by the
browser's reconnect with ``Last-Event-ID`` (services/notifier/api_notifications.py replays)."""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.adapters.db import case_recipients, user_directory
from services.notifier.adapters.in_app_tables import notifications
from services.notifier.adapters.rules_tables import by_rules
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CaseCommented,
    CaseCreated,
    CaseEscalated,
    CaseMailRequested,
    CaseSlaWarning,
    CaseTransition,
    InAppNotified,
)
from shared.db import Tx, insert_ignoring_duplicates, utcnow
from shared.messaging.bus import NotYet
from shared.messaging.processor import Handler

log = logging.getLogger("atiende.notifier.in_app")
SOURCE = "atiende/notifier"
EVENT_TYPE = "notification.in_app.v1"

# R4.7: the events that tell the case's responsible; the others tell workflow's recipients.
RESPONSIBLE_EVENTS = ("case.created.v1", "case.executed.v1", "case.finished.v1", "case.commented.v1",
                      "case.mail_requested.v1")
RECIPIENT_EVENTS = ("case.escalated.v1", "case.sla_warning.v1")
IN_APP_EVENTS = RESPONSIBLE_EVENTS + RECIPIENT_EVENTS

BODY_MAX = 500


def _clip(text: str | None, n: int = BODY_MAX) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


# (es, en) texts per kind: title and body, formatted with the event's facts.
TEXTS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "case.created": (("Nueva solicitud {number} asignada a usted", "New case {number} assigned to you"),
                     ("{subject}", "{subject}")),
    "case.executed": (("Solicitud {number} en ejecución", "Case {number} in execution"),
                      ("{by_name}: {text}", "{by_name}: {text}")),
    "case.finished": (("Solicitud {number} finalizada {outcome_es}", "Case {number} finished {outcome_en}"),
                      ("{by_name}: {text}", "{by_name}: {text}")),
    "case.commented": (("Nuevo comentario en la solicitud {number}", "New comment on case {number}"),
                       ("{by_name}: {text}", "{by_name}: {text}")),
    "case.mail_requested": (("Correo enviado sobre la solicitud {number}", "E-mail sent about case {number}"),
                            ("{by_name}: {subject}", "{by_name}: {subject}")),
    "case.escalated": (("Solicitud {number} escalada (nivel {level})", "Case {number} escalated (level {level})"),
                       ("{message}", "{message}")),
    "case.sla_warning": (("Solicitud {number}: {percent}% del plazo usado", "Case {number}: {percent}% of the time used"),
                         ("{subject}", "{subject}")),
}


def texts(kind: str, language: str, facts: dict[str, Any]) -> tuple[str, str]:
    """The title and body of a notification of ``kind`` in ``language`` (es-CL → es; else en)."""
    i = 0 if language.lower().startswith("es") else 1
    title, body = TEXTS[kind]
    values = {k: ("" if v is None else v) for k, v in facts.items()}
    out_title = _clip(title[i].format_map(_Blank(values)), 300)
    out_body = _clip(body[i].format_map(_Blank(values))).strip(" :")
    return out_title, out_body


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class _CreatedCase:
    """The fields of a case's copy (``case_recipients``) that ``plan`` uses, from case.created."""
    case_id: uuid.UUID
    number: str
    subject: str
    language: str
    responsible_email: str | None


@dataclass(frozen=True)
class Who:
    user_id: uuid.UUID
    language: str


async def _case(conn: AsyncConnection, case_id: uuid.UUID) -> Any:
    case = (await conn.execute(select(case_recipients).where(case_recipients.c.case_id == case_id))).first()
    if case is None:  # case.created not handled yet (it may be waiting in a retry queue)
        raise NotYet(f"case {case_id} not known to notifier yet")
    return case


async def _people(conn: AsyncConnection, tenant: str, ids: list[uuid.UUID], fallback_language: str) -> list[Who]:
    """Those of ``ids`` to tell, in their languages: an inactive user, or one of another tenant,
    is skipped; one the directory does not know yet gets the case's language."""
    if not ids:
        return []
    rows = {r.user_id: r for r in await conn.execute(select(user_directory).where(user_directory.c.user_id.in_(ids)))}
    out = []
    for uid in dict.fromkeys(ids):
        u = rows.get(uid)
        if u is not None and (not u.active or u.tenant != tenant):
            continue
        out.append(Who(uid, u.language if u is not None else fallback_language))
    return out


async def _responsible_by_email(conn: AsyncConnection, tenant: str, email: str) -> uuid.UUID | None:
    ud = user_directory.c
    return (await conn.execute(select(ud.user_id).where(ud.tenant == tenant, func.lower(ud.email) == email.lower())
                               .limit(1))).scalar()


async def plan(conn: AsyncConnection, env: Envelope) -> tuple[uuid.UUID, str, list[Who], dict[str, Any]]:
    """(case id, kind, people, facts) for an event of ``IN_APP_EVENTS``."""
    kind = env.type.removesuffix(".v1")
    facts: dict[str, Any] = {}
    case: Any = None
    if env.type in RECIPIENT_EVENTS:
        e: Any = (CaseEscalated if env.type == "case.escalated.v1" else CaseSlaWarning).model_validate(env.data)
        case = await _case(conn, e.case_id)
        ids = [r.user_id for r in e.recipients if "in_app" in r.channels]
        facts = {"level": getattr(e, "level", None), "percent": getattr(e, "percent", None),
                 "message": getattr(e, "message", None) or case.subject}
    else:
        responsible: uuid.UUID | None
        if env.type == "case.created.v1":
            c = CaseCreated.model_validate(env.data)
            case_id, by, responsible = c.case_id, c.created_by, c.responsible_id
            facts = {"subject": c.subject}
            # What the copy would say (stored from this very event just before): no read back.
            case = _CreatedCase(c.case_id, c.number, c.subject, c.language, c.responsible_email)
        elif env.type == "case.commented.v1":
            m = CaseCommented.model_validate(env.data)
            case_id, by, responsible = m.case_id, m.by, m.responsible_id
            facts = {"by_name": m.by_name, "text": m.text}
        elif env.type == "case.mail_requested.v1":
            r = CaseMailRequested.model_validate(env.data)
            case_id, by, responsible = r.case_id, r.by, None
            facts = {"by_name": r.by_name, "subject": r.subject}
        else:
            t = CaseTransition.model_validate(env.data)
            case_id, by, responsible = t.case_id, t.by, t.responsible_id
            success = t.status_to == "finished_success"
            facts = {"by_name": t.by_name, "text": t.text or "", "outcome_es": "con éxito" if success else "sin éxito",
                     "outcome_en": "successfully" if success else "without success"}
        case = case or await _case(conn, case_id)
        if responsible is None:  # mail_requested (and older publishers): the case copy's address
            responsible = await _responsible_by_email(conn, env.tenant, case.responsible_email)
        ids = [responsible] if responsible is not None and responsible != by else []
    facts = {"number": case.number, "subject": case.subject, **facts}
    return case.case_id, kind, await _people(conn, env.tenant, ids, case.language), facts


async def in_app_for(tx: Tx, env: Envelope) -> None:
    """Store the event's in-app notifications (once per (event, user)) and announce each one."""
    if env.type not in IN_APP_EVENTS:
        return
    case_id, kind, people, facts = await plan(tx.conn, env)
    people = await by_rules(tx.conn, env, "in_app", people, lambda _: "responsible")  # the tenant's rules
    now = utcnow()
    for who in people:
        title, body = texts(kind, who.language, facts)
        row = {"id": uuid.uuid4(), "event_id": env.id, "tenant": env.tenant, "user_id": who.user_id,
               "case_id": case_id, "kind": kind, "title": title, "body": body, "created_at": now, "read_at": None}
        if not await insert_ignoring_duplicates(tx.conn, notifications, row):
            continue  # this event already told this user
        told = InAppNotified(notification_id=row["id"], user_id=who.user_id, case_id=case_id, kind=kind,
                             title=title, body=body, created_at=now)
        await tx.emit(env.follow(source=SOURCE, type=EVENT_TYPE, data=told.model_dump(mode="json")))


TxHandler = Callable[[Tx, Envelope], Awaitable[None]]


def with_in_app(handler: Handler | TxHandler | None) -> Handler | TxHandler:
    """``handler`` then ``in_app_for``, in the same transaction (a two-phase handler: in its
    ``record`` phase, its after-commit effects unchanged). None: ``in_app_for`` alone."""
    if handler is None:
        return in_app_for
    if isinstance(handler, Handler):
        first = handler.handle

        async def record(tx: Tx, env: Envelope) -> None:
            await first(tx, env)
            await in_app_for(tx, env)

        return Handler(record, after_commit=handler.after_commit, after_commit_batch=handler.after_commit_batch)
    plain = handler

    async def both(tx: Tx, env: Envelope) -> None:
        await plain(tx, env)
        await in_app_for(tx, env)

    return both


def add_in_app(handlers: dict[str, Any]) -> dict[str, Any]:
    """``build_handlers``' map with in-app notifications composed in (see ``with_in_app``), plus
    notifier's own consumer of ``notification.in_app.v1`` (``on_in_app_notified``)."""
    out = dict(handlers)
    for t in IN_APP_EVENTS:
        out[t] = with_in_app(out.get(t))
    out.setdefault(EVENT_TYPE, Handler(on_in_app_notified, applies=lambda _env: False))  # acked, no transaction
    return out


async def on_in_app_notified(tx: Tx, env: Envelope) -> None:
    """notifier's durable queue is bound to its own ``notification.in_app.v1`` too, so the event is
    always routed (never in ``<ns>.unrouted`` while no replica listens) and has a consumer. Nothing
    to do here, so it is acked without a transaction or inbox row (``Handler.applies``): the row is
    stored; the live push is each replica's listener's."""


# -- live streams of this replica ---------------------------------------------------------------
QUEUE_MAX = 256
MAX_STREAMS_PER_USER = 20


@dataclass(eq=False)
class LiveStream:
    user_id: uuid.UUID
    tenant: str
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    overflowed: bool = False
    closed: bool = False

    def push(self, item: tuple[str, dict[str, Any]] | None) -> None:
        """Queue an SSE event for the stream; None ends it."""
        if item is None:
            self.closed = True
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # a stuck client: its stream ends; the reconnect replays
            self.overflowed = True


class LiveHub:
    """This replica's open streams by user; ``deliver`` is its live queue's listener."""

    def __init__(self, heartbeat_s: float = 15.0) -> None:
        self.heartbeat_s = heartbeat_s
        self._streams: dict[uuid.UUID, set[LiveStream]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.delivered = 0
        _HUBS.add(self)
        _end_streams_on_server_exit()

    def open(self, user_id: uuid.UUID, tenant: str) -> LiveStream | None:
        """A new stream, or None when the user has too many open already."""
        mine = self._streams[user_id]
        if len(mine) >= MAX_STREAMS_PER_USER:
            return None
        s = LiveStream(user_id, tenant)
        mine.add(s)
        self._loop = asyncio.get_running_loop()
        return s

    def close(self, s: LiveStream) -> None:
        mine = self._streams.get(s.user_id)
        if mine is not None:
            mine.discard(s)
            if not mine:
                del self._streams[s.user_id]

    def count(self, user_id: uuid.UUID | None = None) -> int:
        if user_id is not None:
            return len(self._streams.get(user_id, ()))
        return sum(len(v) for v in self._streams.values())

    async def deliver(self, env: Envelope) -> None:
        if env.type != EVENT_TYPE:
            return
        e = InAppNotified.model_validate(env.data)
        item = {"id": str(e.notification_id), "case_id": str(e.case_id) if e.case_id else None, "kind": e.kind,
                "title": e.title, "body": e.body, "created_at": e.created_at.isoformat(), "read_at": None}
        for s in list(self._streams.get(e.user_id, ())):
            if s.tenant == env.tenant:
                s.push(("notification", item))
                self.delivered += 1

    def end_all(self) -> None:
        """End every open stream (the process is stopping; browsers reconnect elsewhere)."""
        for streams in list(self._streams.values()):
            for s in list(streams):
                s.push(None)

    async def shutdown(self) -> None:
        self.end_all()

    def end_all_soon(self) -> None:
        """``end_all`` from outside the loop (a signal handler)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.end_all)


_HUBS: weakref.WeakSet[LiveHub] = weakref.WeakSet()


def _end_streams_on_server_exit() -> None:
    """uvicorn, told to exit (SIGTERM, Ctrl+C), waits for every response in progress before it
    shuts the app down, and a stream never ends by itself: so its exit also ends this process's
    streams at once (as sse-starlette does). Browsers reconnect, to another replica."""
    try:
        from uvicorn import Server
    except ImportError:  # pragma: no cover - another ASGI server
        return
    if getattr(Server.handle_exit, "_ends_live_streams", False):
        return
    original = Server.handle_exit

    def handle_exit(self: Any, sig: int, frame: Any) -> None:
        original(self, sig, frame)
        for hub in list(_HUBS):
            hub.end_all_soon()

    handle_exit._ends_live_streams = True  # type: ignore[attr-defined]
    Server.handle_exit = handle_exit  # type: ignore[method-assign]
