"""Wires notifier: the mailer (SMTP, or a folder in embedded mode), templates and handlers."""

from __future__ import annotations

from pathlib import Path

from services.notifier.adapters.db import inbox, outbox, progress, sessions
from services.notifier.adapters.mailer import FolderMailer, Mailer, SmtpMailer
from services.notifier.api import router
from services.notifier.domain import Renderer
from services.notifier.handlers import EmailDeliveries, build_handlers
from shared.messaging.bus import Bus
from shared.runtime import HandlerMap, ServiceRuntime
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def make_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings.smtp_host, settings.smtp_port, timeout_s=settings.smtp_timeout_s,
                          pool_size=settings.smtp_pool_size)
    return FolderMailer(settings.mail_dir)


def build(settings: Settings, bus: Bus | None = None, mailer: Mailer | None = None) -> ServiceRuntime:
    the_mailer = mailer or make_mailer(settings)

    def handlers(rt: ServiceRuntime) -> HandlerMap:
        return build_handlers(EmailDeliveries(rt.db, the_mailer, Renderer(), settings.smtp_from))

    rt = ServiceRuntime("notifier", settings, outbox=outbox, inbox=inbox, migrations=MIGRATIONS,
                        handlers=handlers, router=router, bus=bus, title="Atiende notifier", progress=progress)
    rt.extras["sessions"] = sessions
    rt.extras["token_secret"] = settings.signing_secret()
    rt.extras["mailer"] = the_mailer
    rt.extras["closers"] = [the_mailer.close]
    return rt


def create_app():  # type: ignore[no-untyped-def]
    """Uvicorn factory for `atiende serve` (settings from the environment)."""
    return build(Settings()).app
