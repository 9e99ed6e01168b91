"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can be told to
refuse messages (4xx or 5xx) to exercise retries and dead letters."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller


@dataclass
class Received:
    to: list[str]
    message: Message
    at: float

    @property
    def header(self) -> Message:
        return self.message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        return self.sink._accept(envelope)


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refusals = 0
        self._lock = threading.Lock()
        self._fail_next = 0
        self._fail_code: str | None = None
        self._always: str | None = None
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=free_port())

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def fail_next(self, n: int, reply: str = "451 4.3.0 try again later") -> None:
        with self._lock:
            self._fail_next, self._fail_code = n, reply

    def fail_always(self, reply: str | None = "451 4.3.0 mailbox busy") -> None:
        with self._lock:
            self._always = reply

    def _accept(self, envelope) -> str:  # type: ignore[no-untyped-def]
        with self._lock:
            if self._always:
                self.refusals += 1
                return self._always
            if self._fail_next > 0:
                self._fail_next -= 1
                self.refusals += 1
                return self._fail_code or "451 try again"
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append(Received(list(envelope.rcpt_tos), parsed, time.time()))
        return "250 OK"

    def for_case(self, case_id: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.message["X-Atiende-Case"] == case_id]

    def count(self) -> int:
        with self._lock:
            return len(self.messages)
