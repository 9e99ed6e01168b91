"""E-mail adapters. ``SmtpMailer`` keeps a few SMTP connections open and reuses them (a new
TCP + EHLO per message would dominate the cost); ``FolderMailer`` writes .eml files for the
embedded mode when no SMTP server is configured.

Every message leaves with a ``Date`` header and a display name in ``From`` (``stamp``): some
receivers file a message without them as spam, and clients show a bare address.

Errors are sorted for the bus: a 5xx reply is permanent (retrying cannot help: DLQ), anything
else (connection refused, timeout, 4xx) is transient (retry queue)."""

from __future__ import annotations

import asyncio
import logging
from email.message import Message
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib

from shared.messaging.bus import PermanentError, Retryable

log = logging.getLogger("atiende.mailer")


class Mailer(Protocol):
    async def send(self, message: Message) -> None: ...

    async def close(self) -> None: ...


DEFAULT_FROM_NAME = "Atiende"


def stamp(message: Message, from_name: str = DEFAULT_FROM_NAME) -> Message:
    """Add ``Date`` if missing, and ``from_name`` to a ``From`` that is a bare address."""
    if message["Date"] is None:
        message["Date"] = formatdate(usegmt=True)
    sender = message["From"]
    if sender is not None:
        name, address = parseaddr(str(sender))
        if address and not name:
            message.replace_header("From", formataddr((from_name or DEFAULT_FROM_NAME, address), charset="utf-8"))
    return message


class SmtpMailer:
    def __init__(self, host: str, port: int, *, timeout_s: float = 10.0, pool_size: int = 4,
                 from_name: str = DEFAULT_FROM_NAME) -> None:
        self.from_name = from_name
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(pool_size)

    async def _connection(self) -> aiosmtplib.SMTP:
        while not self._idle.empty():
            smtp = self._idle.get_nowait()
            if smtp.is_connected:
                return smtp
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout_s, start_tls=False)
        await smtp.connect()
        return smtp

    async def send(self, message: Message) -> None:
        stamp(message, self.from_name)
        async with self._slots:
            smtp: aiosmtplib.SMTP | None = None
            try:
                smtp = await self._connection()
                await smtp.send_message(message)
            except aiosmtplib.SMTPResponseException as exc:
                await _discard(smtp)
                smtp = None
                if 500 <= exc.code < 600:
                    raise PermanentError(f"SMTP {exc.code}: {exc.message}") from exc
                raise Retryable(f"SMTP {exc.code}: {exc.message}") from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await _discard(smtp)
                smtp = None
                raise Retryable(f"SMTP unavailable: {exc!r}") from exc
            finally:
                if smtp is not None:
                    self._idle.put_nowait(smtp)

    async def close(self) -> None:
        while not self._idle.empty():
            await _discard(self._idle.get_nowait())


async def _discard(smtp: aiosmtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        if smtp.is_connected:
            smtp.close()
    except Exception:  # closing a broken connection: nothing more to do
        pass


class FolderMailer:
    """Writes each message as ``<folder>/<message-id>.eml`` (embedded mode without SMTP)."""

    def __init__(self, folder: Path, *, from_name: str = DEFAULT_FROM_NAME) -> None:
        self.from_name = from_name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def send(self, message: Message) -> None:
        stamp(message, self.from_name)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_") + ".eml"
        await asyncio.to_thread((self.folder / name).write_bytes, message.as_bytes())

    async def close(self) -> None:
        return None
