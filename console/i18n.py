"""The console's texts in Spanish (es-CL, the default) and English, and dates and numbers in the
user's locale. Babel is not a dependency, so a small formatter covers the two locales we ship:
es-CL writes 03-12-2026 14:05 and 100.000; English writes Dec 3, 2026 14:05 and 100,000.

Templates call ``t("key")``; an unknown key shows the key itself, so a missing text is visible
instead of breaking the page."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"

TEXTS: dict[str, tuple[str, str]] = {
    # frame
    "app.name": ("Atiende — consola", "Atiende — console"),
    "nav.main": ("Navegación principal", "Main navigation"),
    "nav.inbox": ("Bandeja", "Inbox"),
    "nav.new_case": ("Nueva solicitud", "New case"),
    "nav.notifications": ("Notificaciones", "Notifications"),
    "nav.logout": ("Cerrar sesión", "Log out"),
    "nav.language": ("Idioma", "Language"),
    "nav.language.change": ("Cambiar", "Change"),
    "skip": ("Saltar al contenido", "Skip to content"),
    "signed_in_as": ("Sesión de", "Signed in as"),
    # log in, password set-up
    "login.title": ("Iniciar sesión", "Log in"),
    "login.tenant": ("Cliente (tenant)", "Tenant"),
    "login.email": ("Correo electrónico", "E-mail"),
    "login.password": ("Contraseña", "Password"),
    "login.submit": ("Entrar", "Log in"),
    "login.failed": ("No se pudo iniciar sesión.", "Could not log in."),
    "logged_out": ("Sesión cerrada.", "Logged out."),
    "session.expired": ("Su sesión terminó; inicie sesión otra vez.", "Your session ended; log in again."),
    "setup.title": ("Definir contraseña", "Set your password"),
    "setup.intro": ("Elija la contraseña de su cuenta. El enlace sirve una sola vez.",
                    "Choose your account's password. The link works once."),
    "setup.password": ("Nueva contraseña", "New password"),
    "setup.submit": ("Guardar contraseña", "Save password"),
    "setup.done": ("Contraseña guardada: ya puede iniciar sesión.", "Password saved: you can log in now."),
    "setup.no_token": ("El enlace no trae su código; ábralo otra vez desde el correo.",
                       "The link has no code; open it again from the e-mail."),
    # inbox
    "inbox.title": ("Bandeja de seguimiento", "Case inbox"),
    "inbox.search": ("Buscar (nombre, correo, teléfono, número, asunto o RUT)",
                     "Search (name, e-mail, phone, number, subject or national id)"),
    "inbox.filters": ("Filtros", "Filters"),
    "inbox.apply": ("Buscar", "Search"),
    "inbox.clear": ("Limpiar", "Clear"),
    "inbox.any": ("(todos)", "(any)"),
    "inbox.default_statuses": ("(en curso)", "(in progress)"),
    "inbox.overdue.any": ("(con y sin atraso)", "(overdue or not)"),
    "inbox.overdue.yes": ("Sólo atrasadas", "Overdue only"),
    "inbox.overdue.no": ("Sólo al día", "On time only"),
    "inbox.sort": ("Orden", "Sort"),
    "inbox.mine": ("Sólo mis solicitudes", "My cases only"),
    "inbox.results": ("{n} solicitudes", "{n} cases"),
    "inbox.results.one": ("1 solicitud", "1 case"),
    "inbox.results.estimate": ("unas {n} solicitudes", "about {n} cases"),
    "inbox.results.page": ("{n} en esta página", "{n} on this page"),
    "inbox.empty": ("No hay solicitudes que coincidan.", "No cases match."),
    "inbox.next": ("Página siguiente", "Next page"),
    "inbox.first": ("Primera página", "First page"),
    "inbox.table": ("Solicitudes", "Cases"),
    "sort.deadline": ("Vencimiento (próximo primero)", "Deadline (soonest first)"),
    "sort.-deadline": ("Vencimiento (lejano primero)", "Deadline (latest first)"),
    "sort.created": ("Ingreso (antiguo primero)", "Entry (oldest first)"),
    "sort.-created": ("Ingreso (reciente primero)", "Entry (newest first)"),
    "sort.priority": ("Prioridad (urgente primero)", "Priority (urgent first)"),
    "sort.-priority": ("Prioridad (baja primero)", "Priority (low first)"),
    # fields
    "f.number": ("Número", "Number"),
    "f.type": ("Tipo", "Type"),
    "f.subject": ("Asunto", "Subject"),
    "f.description": ("Descripción", "Description"),
    "f.contact": ("Contacto", "Contact"),
    "f.contact.name": ("Nombre del contacto", "Contact's name"),
    "f.contact.email": ("Correo del contacto", "Contact's e-mail"),
    "f.contact.phone": ("Teléfono del contacto", "Contact's phone"),
    "f.responsible": ("Responsable", "Responsible"),
    "f.status": ("Estado", "Status"),
    "f.priority": ("Prioridad", "Priority"),
    "f.channel": ("Canal", "Channel"),
    "f.area": ("Área", "Area"),
    "f.project": ("Proyecto", "Project"),
    "f.category": ("Categoría", "Category"),
    "f.created_at": ("Ingreso", "Entered"),
    "f.deadline": ("Vence", "Due"),
    "f.overdue": ("Atrasada", "Overdue"),
    "f.association": ("Asociación", "Association"),
    "f.answered_at": ("Respondida", "Answered"),
    "f.finished_at": ("Finalizada", "Finished"),
    "f.follow_up_of": ("Seguimiento de", "Follow-up of"),
    "f.party_id": ("RUT / parte (id)", "Party (id)"),
    "f.text": ("Texto", "Text"),
    "f.comment": ("Comentario", "Comment"),
    "f.reason": ("Motivo", "Reason"),
    "f.reason_text": ("Detalle del motivo", "Reason detail"),
    "f.outcome": ("Resultado", "Outcome"),
    "f.responsible_id": ("Nuevo responsable", "New responsible"),
    "overdue.mark": ("Atrasada", "Overdue"),
    "none": ("—", "—"),
    # statuses, priorities
    "status.new": ("Nueva", "New"),
    "status.in_execution": ("En ejecución", "In execution"),
    "status.waiting_on_customer": ("Esperando al cliente", "Waiting on the customer"),
    "status.finished_success": ("Finalizada con éxito", "Finished successfully"),
    "status.finished_failure": ("Finalizada sin éxito", "Finished without success"),
    "priority.low": ("Baja", "Low"),
    "priority.normal": ("Normal", "Normal"),
    "priority.high": ("Alta", "High"),
    "priority.urgent": ("Urgente", "Urgent"),
    "reason.customer_called_again": ("El cliente volvió a llamar", "The customer called again"),
    "reason.came_to_branch_again": ("El cliente volvió a la sucursal", "The customer came to the branch again"),
    "reason.other": ("Otro (detalle)", "Other (detail)"),
    "outcome.success": ("Con éxito", "With success"),
    "outcome.failure": ("Sin éxito", "Without success"),
    # a case
    "case.title": ("Solicitud {number}", "Case {number}"),
    "case.fields": ("Datos", "Details"),
    "case.clocks": ("Plazos", "Clocks"),
    "case.clocks.none": ("Workflow aún no calcula los plazos.", "Workflow has not computed the clocks yet."),
    "case.timeline": ("Historial", "Timeline"),
    "case.timeline.more": ("Ver más", "Show more"),
    "case.actions": ("Acciones", "Actions"),
    "case.actions.none": ("Su perfil no permite acciones sobre esta solicitud.",
                          "Your profile allows no action on this case."),
    "case.done": ("Hecho.", "Done."),
    "clock.first_response": ("Primera respuesta", "First response"),
    "clock.resolution": ("Resolución", "Resolution"),
    "clock.hold": ("Espera (R1.4)", "Hold (R1.4)"),
    "clock.internal_commitment": ("Compromiso interno", "Internal commitment"),
    "clock.state.running": ("En curso", "Running"),
    "clock.state.paused": ("En pausa", "Paused"),
    "clock.state.warned": ("Por vencer", "Nearly due"),
    "clock.state.met": ("Cumplido", "Met"),
    "clock.state.breached": ("Vencido", "Breached"),
    "clock.state.stopped": ("Detenido", "Stopped"),
    "clock.target": ("Meta", "Target"),
    "clock.started": ("Desde", "From"),
    "clock.due": ("Vence", "Due"),
    "clock.remaining": ("Quedan {h} h hábiles", "{h} business hours left"),
    "clock.paused_for": ("En pausa {h} h hábiles (se suman al plazo)", "Paused {h} business hours (added to the due time)"),
    "clock.why": ("Por qué vence entonces", "Why it is due then"),
    "clock.day.counted": ("{h} h hábiles contadas", "{h} business hours counted"),
    "clock.day.weekend": ("fin de semana", "weekend"),
    "clock.day.holiday": ("feriado", "holiday"),
    "clock.day.closed": ("cerrado", "closed"),
    "clock.day.not_working_day": ("día no hábil", "not a working day"),
    "clock.day.paused": ("en pausa", "paused"),
    "unit.business_days": ("días hábiles", "business days"),
    "unit.business_hours": ("horas hábiles", "business hours"),
    "unit.calendar_days": ("días corridos", "calendar days"),
    "unit.hours": ("horas", "hours"),
    "unit.days": ("días", "days"),
    "action.execute": ("Ejecutar", "Execute"),
    "action.comment": ("Comentar", "Comment"),
    "action.finish": ("Finalizar", "Finish"),
    "action.pause": ("Pausar (esperar al cliente)", "Pause (wait on the customer)"),
    "action.resume": ("Reanudar", "Resume"),
    "action.reopen": ("Reabrir", "Reopen"),
    "action.mail": ("Enviar correo", "Send mail"),
    "f.to": ("Para (vacío: el contacto; separe con comas)", "To (empty: the contact; comma-separated)"),
    "f.cc": ("Copia (separe con comas)", "Cc (comma-separated)"),
    "f.mail_subject": ("Asunto del correo", "Mail subject"),
    "f.body": ("Mensaje", "Message"),
    "f.include_details": ("Incluir el detalle de la solicitud", "Include the case's details"),
    "case.deliveries": ("Envíos", "Deliveries"),
    "case.deliveries.none": ("Sin envíos.", "No deliveries."),
    "delivery.state.sent": ("enviado", "sent"),
    "delivery.state.pending": ("pendiente", "pending"),
    "delivery.state.failed": ("fallido", "failed"),
    "delivery.state.sending": ("en envío", "sending"),
    "delivery.state.undelivered": ("no entregado", "undelivered"),
    "delivery.state.delivered": ("entregado", "delivered"),
    "channel.email": ("correo", "e-mail"),
    "channel.sms": ("SMS", "SMS"),
    "channel.in_app": ("en la aplicación", "in-app"),
    "action.priority": ("Cambiar prioridad", "Change priority"),
    "action.assign": ("Asignar", "Assign"),
    "kind.created": ("Creada", "Created"),
    "kind.commented": ("Comentario", "Comment"),
    "kind.execute": ("Ejecutada", "Executed"),
    "kind.finish_success": ("Finalizada con éxito", "Finished successfully"),
    "kind.finish_failure": ("Finalizada sin éxito", "Finished without success"),
    "kind.wait": ("En espera del cliente", "Waiting on the customer"),
    "kind.resume": ("Reanudada", "Resumed"),
    "kind.reopen": ("Reabierta", "Reopened"),
    "kind.reverted": ("Revertida", "Reverted"),
    "kind.priority_changed": ("Prioridad cambiada", "Priority changed"),
    "kind.assigned": ("Reasignada", "Reassigned"),
    "kind.mail_requested": ("Correo enviado", "Mail sent"),
    "kind.notification_sent": ("Aviso enviado", "Notification sent"),
    "kind.notification_failed": ("Aviso no entregado", "Notification failed"),
    "kind.sla_changed": ("Plazos recalculados", "Clocks recomputed"),
    "kind.hold_set": ("Espera fijada", "Hold set"),
    "kind.reclassified": ("Reclasificada", "Reclassified"),
    "kind.attachment_added": ("Adjunto agregado", "Attachment added"),
    "kind.escalated_to_supervisor": ("Escalada a supervisión", "Escalated to the supervisor"),
    "by": ("por", "by"),
    # create a case
    "create.title": ("Nueva solicitud", "New case"),
    "create.choose_type": ("Tipo de solicitud", "Case type"),
    "create.choose": ("Elegir", "Choose"),
    "create.submit": ("Registrar solicitud", "Register the case"),
    "create.required": ("(obligatorio)", "(required)"),
    "create.channels_any": ("(cualquier canal)", "(any channel)"),
    "create.responsible_email": ("Correo del responsable", "Responsible's e-mail"),
    "create.created": ("Solicitud {number} registrada.", "Case {number} registered."),
    "create.party": ("RUT del cliente (asocia la solicitud a su ficha)", "Customer's national id (links the case to them)"),
    "create.party.title": ("No se encontró al cliente", "Customer not found"),
    "create.party.none": ("No hay un cliente con ese RUT.", "No customer has that national id."),
    "create.party.many": ("Varios clientes tienen ese RUT; búsquelo en su ficha.", "Several customers have that national id."),
    "create.none": ("Su perfil no crea solicitudes.", "Your profile does not create cases."),
    # bell
    "bell.label": ("Avisos", "Alerts"),
    "bell.count": ("{n} avisos sin leer", "{n} unread alerts"),
    "bell.count.one": ("1 aviso sin leer", "1 unread alert"),
    "bell.notifications": ("Notificaciones", "Notifications"),
    "bell.alerts": ("Alertas de atraso", "Overdue alerts"),
    "bell.none": ("Nada nuevo.", "Nothing new."),
    "bell.mark_read": ("Marcar leída", "Mark read"),
    "bell.read_all": ("Marcar todas leídas", "Mark all read"),
    "bell.alerts.seen": ("Marcar alertas vistas", "Mark alerts seen"),
    "bell.overdue_by": ("atrasada {h} h", "{h} h overdue"),
    "alert.case_overdue": ("Solicitud atrasada", "Case overdue"),
    "alert.commitment_passed": ("Compromiso vencido", "Commitment passed"),
    "alert.task_overdue": ("Tarea atrasada", "Task overdue"),
    "error.unexpected": ("La API no respondió como se esperaba ({status}).", "The API answered unexpectedly ({status})."),
}


def language_of(value: str | None) -> str:
    """One of ``LANGUAGES`` from a stored preference or an Accept-Language header."""
    v = (value or "").strip().lower()
    return "en" if v.startswith("en") else DEFAULT_LANGUAGE


def text(lang: str, key: str, **values: object) -> str:
    pair = TEXTS.get(key)
    if pair is None:
        return key
    s = pair[1 if lang == "en" else 0]
    return s.format(**values) if values else s


def plural(lang: str, key: str, n: int) -> str:
    """``key.one`` for exactly one (when it exists), else ``key`` with ``n`` formatted."""
    if n == 1 and f"{key}.one" in TEXTS:
        return text(lang, f"{key}.one")
    return text(lang, key, n=format_number(n, lang))


def label(lang: str, prefix: str, code: str | None) -> str:
    """The text of a code (``status.new``…), or the code itself when it has none (catalog codes)."""
    if code is None:
        return text(lang, "none")
    key = f"{prefix}.{code}"
    return text(lang, key) if key in TEXTS else code


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zone(tz: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _parse(value: datetime | date | str) -> datetime | date:
    if isinstance(value, str):
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return value


def format_date(value: datetime | date | str | None, lang: str, tz: str | None = None) -> str:
    if value is None or value == "":
        return text(lang, "none")
    v = _parse(value)
    if isinstance(v, datetime):
        zone = _zone(tz)
        v = (v.astimezone(zone) if zone else v).date()
    return f"{v.strftime('%d-%m-%Y')}" if lang != "en" else f"{_MONTHS_EN[v.month - 1]} {v.day}, {v.year}"


def format_datetime(value: datetime | str | None, lang: str, tz: str | None = None) -> str:
    """In the tenant's zone: es-CL 03-12-2026 14:05, en Dec 3, 2026 14:05."""
    if value is None or value == "":
        return text(lang, "none")
    v = _parse(value)
    if not isinstance(v, datetime):
        return format_date(v, lang, tz)
    zone = _zone(tz)
    if zone:
        v = v.astimezone(zone)
    return f"{format_date(v, lang)} {v.strftime('%H:%M')}"


def format_number(n: int | float | None, lang: str, decimals: int = 0) -> str:
    """100.000 / 1.234,5 (es-CL) and 100,000 / 1,234.5 (en)."""
    if n is None:
        return text(lang, "none")
    s = f"{n:,.{decimals}f}"  # English grouping first
    if lang == "en":
        return s
    return s.replace(",", "\0").replace(".", ",").replace("\0", ".")


def hours(seconds: int | float | None, lang: str) -> str:
    return format_number((seconds or 0) / 3600, lang, 1)
