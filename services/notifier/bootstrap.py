"""Wires notifier: the mailer (SMTP, or a folder in embedded mode), templates and handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from services.notifier.adapters.db import deliveries, inbox, outbox, progress, sessions
from services.notifier.adapters.mailer import FolderMailer, Mailer, SmtpMailer
from services.notifier.adapters.sms import SmsSender
from services.notifier.api import router
from services.notifier.api_admin import router as admin_router
from services.notifier.api_ledger import router as ledger_router
from services.notifier.api_notifications import router as notifications_router
from services.notifier.domain import Renderer
from services.notifier.handlers import EmailDeliveries, SmsDeliveries, build_handlers
from services.notifier.in_app import EVENT_TYPE as IN_APP_EVENT
from services.notifier.in_app import LiveHub
from services.notifier.sweeper import install as install_sweeper
from shared import metrics
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
    sms_sender = SmsSender(settings)  # its HTTP session is opened in the loop, on the first send

    made: dict[str, Any] = {}

    def handlers(rt: ServiceRuntime) -> HandlerMap:
        renderer = Renderer()
        made["sms"] = SmsDeliveries(rt.db, sms_sender, renderer, settings.sms_callback_base)
        made["email"] = EmailDeliveries(rt.db, the_mailer, renderer, settings.smtp_from)
        return build_handlers(made["email"], made["sms"])

    rt = ServiceRuntime("notifier", settings, outbox=outbox, inbox=inbox, migrations=MIGRATIONS,
                        handlers=handlers, router=router, bus=bus, title="Atiende notifier", progress=progress)
    rt.extras["sessions"] = sessions
    rt.extras["token_secret"] = settings.signing_secret()
    rt.extras["mailer"] = the_mailer
    rt.extras["sms"] = made["sms"]  # the status callbacks (api.py)
    d = deliveries.c  # the scrape's count walks the partial index deliveries_unsettled (adapters/db.py)
    rt.metrics_probes.append(metrics.gauge_probe(rt.name, rt.db, metrics.deliveries_unsettled, select(
        d.channel, d.state, func.count()).where(d.state.in_(("pending", "sending", "unknown"))).group_by(d.channel, d.state)))
    install_sweeper(rt, made["email"], made["sms"])  # deliveries in doubt resolved; GET /deliveries/stats
    # In-app notifications: the API, and this replica's live streams fed from its own queue
    # <ns>.notifier.live.<replica-id> (services/notifier/in_app.py).
    rt.app.include_router(notifications_router)
    rt.app.include_router(admin_router)  # notification rules and templates (api_admin.py)
    rt.app.include_router(ledger_router)  # GET /deliveries/mine, /deliveries?user_id= (api_ledger.py)
    live = rt.extras["live"] = LiveHub()
    rt.listen("live", [IN_APP_EVENT], live.deliver)
    rt.extras["closers"] = [live.shutdown, the_mailer.close, sms_sender.close]
    return rt


def create_app():  # type: ignore[no-untyped-def]
    """Uvicorn factory for `atiende serve` (settings from the environment)."""
    return build(Settings()).app
