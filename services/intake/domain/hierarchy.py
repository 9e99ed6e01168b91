"""The hierarchy's rules (R2.2–R2.6), activities (R0.2) and attachments. Plain Python: no I/O.

Interaction (R2.2) → case (R2.3, the lead's ``POST /cases`` with ``interaction_id``) → task
(R2.4) → work order (R2.5). Closing rolls up (R2.6): a case closes only when its tasks are
closed (enforced in case_actions), an interaction only when its cases are finished (here).

User-facing texts are (Spanish, English) pairs; refusals carry a stable ``code``."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import puremagic

from services.intake.domain.access import Principal, Role
from services.intake.domain.lifecycle import FINISHED
from shared.fields import clean_filename

Text = tuple[str, str]


class Refused(Exception):
    """A rule said no: ``code`` is stable, ``message`` is (es, en)."""

    def __init__(self, code: str, message: Text, **extra: Any) -> None:
        super().__init__(message[1])
        self.code = code
        self.message = message
        self.extra = extra


# -- interactions (R2.2, R2.6) --------------------------------------------------------------------
INTERACTION_PREFIX = "AT-"


def interaction_code(number: int) -> str:
    """The human-readable code of the tenant's ``number``-th interaction: ``AT-000123``."""
    if number < 1:
        raise ValueError("interaction numbers start at 1")
    return f"{INTERACTION_PREFIX}{number:06d}"


def case_is_finished(status: str) -> bool:
    return status in {s.value for s in FINISHED}


def open_cases(cases: Iterable[Any]) -> list[Any]:
    """R2.6: the cases (rows with ``status``) that keep an interaction from closing."""
    return [c for c in cases if not case_is_finished(c.status)]


def can_register_interaction(p: Principal) -> bool:
    """Agents (and integrations, which also create cases) register interactions; viewers do not."""
    return p.has(Role.ADMIN, Role.SUPERVISOR, Role.EXECUTOR, Role.TECHNICAL_MANAGER, Role.INTEGRATION)


def can_close_interaction(p: Principal, created_by: Any) -> bool:
    """Admins, supervisors, and the agent who registered it."""
    if p.has(Role.ADMIN, Role.SUPERVISOR):
        return True
    return p.user_id is not None and p.user_id == created_by and can_register_interaction(p)


# -- tasks (R2.4) ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DueLimit:
    """The latest date a task of a case may be due, and what that date is."""

    date: date
    kind: str  # internal_commitment_date | due_date

    @property
    def label(self) -> Text:
        return (("la fecha de compromiso interna", "the internal commitment date")
                if self.kind == "internal_commitment_date" else ("la fecha límite", "the deadline"))


def task_due_limit(internal_commitment_date: date | None, deadline: date | None) -> DueLimit | None:
    """R2.4: a task is due no later than its case's internal commitment date; a case without one
    bounds its tasks by its deadline (when workflow has set it); otherwise there is no limit."""
    if internal_commitment_date is not None:
        return DueLimit(internal_commitment_date, "internal_commitment_date")
    if deadline is not None:
        return DueLimit(deadline, "due_date")
    return None


def check_task_due_date(due: date, limit: DueLimit | None, today: date) -> None:
    """Raise ``Refused`` if ``due`` is in the past (tenant's today) or after the case's limit."""
    if due < today:
        raise Refused("due_date_in_past", (f"La fecha de la tarea ({due.isoformat()}) ya pasó.",
                                           f"The task's due date ({due.isoformat()}) is in the past."))
    if limit is not None and due > limit.date:
        es, en = limit.label
        raise Refused(f"due_after_{limit.kind}",
                      (f"La tarea no puede vencer después de {es} de la solicitud ({limit.date.isoformat()}).",
                       f"The task cannot be due after {en} of the case ({limit.date.isoformat()})."),
                      limit=limit.date.isoformat(), limit_kind=limit.kind)


def task_overdue(status: str, due: date, today: date) -> bool:
    """R2.4: an open task is overdue once its due day is over (``today``: the tenant's)."""
    return status == "open" and due < today


def can_close_task(p: Principal, responsible_id: Any) -> bool:
    """R2.4: the responsible closes it from their task inbox; admins and supervisors may too."""
    if p.has(Role.ADMIN, Role.SUPERVISOR):
        return True
    return p.user_id is not None and p.user_id == responsible_id


# -- work orders (R2.5) ---------------------------------------------------------------------------
class WorkOrderStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTED = "executed"


BLOCKS_TASK_CLOSING = (WorkOrderStatus.PENDING_APPROVAL, WorkOrderStatus.APPROVED)


def decide_work_order(status: WorkOrderStatus, approve: bool) -> WorkOrderStatus:
    """A technical manager approves or rejects a pending work order, once."""
    if status != WorkOrderStatus.PENDING_APPROVAL:
        raise Refused("work_order_already_decided",
                      (f"La orden de trabajo ya no está pendiente de aprobación (estado «{status.value}»).",
                       f"The work order is no longer pending approval (status «{status.value}»)."),
                      status_now=status.value)
    return WorkOrderStatus.APPROVED if approve else WorkOrderStatus.REJECTED


def execute_work_order(status: WorkOrderStatus) -> WorkOrderStatus:
    """R2.5: only an approved work order is executed; before approval, or once rejected, never."""
    if status == WorkOrderStatus.PENDING_APPROVAL:
        raise Refused("work_order_not_approved",
                      ("La orden de trabajo aún no está aprobada por el Gerente Técnico; no puede ejecutarse.",
                       "The work order is not yet approved by the technical manager; it cannot be executed."),
                      status_now=status.value)
    if status == WorkOrderStatus.REJECTED:
        raise Refused("work_order_rejected",
                      ("La orden de trabajo fue rechazada por el Gerente Técnico; no puede ejecutarse.",
                       "The work order was rejected by the technical manager; it cannot be executed."),
                      status_now=status.value)
    if status == WorkOrderStatus.EXECUTED:
        raise Refused("work_order_already_executed",
                      ("La orden de trabajo ya fue ejecutada.", "The work order was already executed."),
                      status_now=status.value)
    return WorkOrderStatus.EXECUTED


# -- activities (R0.2) ----------------------------------------------------------------------------
class ActivityKind(StrEnum):
    NOTE = "note"
    TASK = "task"
    CALL = "call"


class ActivityStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


def can_complete_activity(p: Principal, owner_id: Any, manages_case: bool) -> bool:
    """Its owner, or whoever manages the case's tasks (responsible, admin, supervisor)."""
    return manages_case or (p.user_id is not None and p.user_id == owner_id)


# -- attachments ----------------------------------------------------------------------------------
# What may be attached: PDF and the common image formats. The type is what a maintained detector
# (puremagic) says the bytes are; the declared type and the name's extension must agree with it.
ALLOWED_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp")
_EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
               "image/webp": ".webp"}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
# Extension → type from the standard library's built-in table only (not the machine's
# /etc/mime.types), so the answer is the same everywhere; ``.jfif`` is not in it.
_EXT_TYPES = mimetypes.MimeTypes()
_EXT_TYPES.add_type("image/jpeg", ".jfif", strict=False)
# Anywhere in the file (not only its head): markup or script a browser or a viewer could run if
# the file were ever opened as something else (a PNG signature followed by <html><script>…).
# Markers are long enough (tags need a delimiter after the name) that random compressed bytes
# match about once in 10 GB of images; short ones (<%, <?=) would match nearly every photo.
_ACTIVE = re.compile(rb"<(?:script|html|body|iframe|object|embed|svg)[\s>/]|<!doctype|<\?php|javascript:|vbscript:",
                     re.IGNORECASE)
# In a PDF: actions that run script or launch programs when it is opened, and embedded files.
# (Long names only: a short one such as /JS would match random bytes of compressed streams.)
_PDF_ACTIVE = re.compile(rb"/(?:JavaScript|Launch|EmbeddedFile|RichMedia)[\s()<>\[\]{}/%]")
_PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk type and its (constant) CRC
_PDF_TRAILER_OK = re.compile(rb"[\s\x00]*")


def _normal(content_type: str | None) -> str:
    t = (content_type or "").split(";")[0].strip().lower()
    return _ALIASES.get(t, t)


def sniff_content_type(data: bytes) -> str | None:
    """The type the bytes really are, among those accepted, as puremagic (header and footer
    signatures) detects it; None for anything else (or nothing recognisable)."""
    if not data:
        return None
    try:
        matches = puremagic.magic_string(data)
    except (puremagic.PureError, ValueError):
        return None
    if not matches:
        return None
    best = matches[0].confidence
    for m in matches:  # the most confident matches first; an accepted type among them wins
        if m.confidence < best:
            break
        if _normal(m.mime_type) in ALLOWED_TYPES:
            return _normal(m.mime_type)
    return None


# Extensions of things that run or render, which the built-in table may not know.
_RISKY_EXTENSIONS = frozenset({"hta", "xht", "xhtml", "shtml", "svgz", "php", "asp", "aspx", "jsp", "scr", "com",
                               "bat", "cmd", "ps1", "vbs", "msi", "jar", "lnk"})


def extension_type(name: str | None) -> str | None:
    """The type a file name claims by its extension (None: no extension, or an unknown one)."""
    if not name or "." not in name.strip(". "):
        return None
    ext = name.rsplit(".", 1)[-1].lower()
    guessed = _EXT_TYPES.guess_type("x." + ext, strict=False)[0]
    if guessed:
        return _normal(guessed)
    return "application/octet-stream" if ext in _RISKY_EXTENSIONS else None


def _structure_problem(data: bytes, content_type: str) -> str | None:
    """Whole-file checks beyond the signature: the file's end is where its format says. A PNG
    with an IEND chunk ends right after it; a PDF with %%EOF has only whitespace after the last
    one (incremental updates end in their own %%EOF). Nothing may be appended after the end."""
    if _ACTIVE.search(data) or (content_type == "application/pdf" and _PDF_ACTIVE.search(data)):
        return "active_content"
    if content_type == "image/png":
        end = data.rfind(_PNG_END)
        if end >= 0 and end + len(_PNG_END) != len(data):
            return "trailing_data"
    elif content_type == "application/pdf":
        end = data.rfind(b"%%EOF")
        if end >= 0 and not _PDF_TRAILER_OK.fullmatch(data, end + 5):
            return "trailing_data"
    return None


def check_upload(data: bytes, declared_type: str | None, max_bytes: int, filename: str | None = None) -> str:
    """The content type to store for an upload, or ``Refused``: empty, too big, not a PDF or an
    image by its bytes, containing markup/script or data after the format's end anywhere in
    the file, or declared (``Content-Type``, or the name's extension) as another type."""
    if not data:
        raise Refused("empty_file", ("El archivo está vacío.", "The file is empty."))
    if len(data) > max_bytes:
        mb = max_bytes / (1024 * 1024)
        raise Refused("file_too_large", (f"El archivo supera el máximo de {mb:g} MB.",
                                         f"The file exceeds the {mb:g} MB limit."), max_bytes=max_bytes)
    sniffed = sniff_content_type(data)
    if sniffed is None:
        raise Refused("unsupported_file_type",
                      ("Sólo se aceptan PDF e imágenes (PNG, JPEG, GIF, WEBP); el contenido no es ninguno de ellos.",
                       "Only PDF and images (PNG, JPEG, GIF, WEBP) are accepted; the content is none of them."),
                      allowed=list(ALLOWED_TYPES))
    declared = _normal(declared_type)
    if declared and declared != "application/octet-stream" and declared != sniffed:
        raise Refused("content_type_mismatch",
                      (f"El archivo se declaró como {declared} pero su contenido es {sniffed}.",
                       f"The file was declared as {declared} but its content is {sniffed}."))
    by_name = extension_type(filename)
    if by_name is not None and by_name != sniffed:
        ext = filename.rsplit(".", 1)[-1] if filename else ""
        raise Refused("extension_mismatch",
                      (f"El nombre del archivo termina en .{ext} pero su contenido es {sniffed}.",
                       f"The file name ends in .{ext} but its content is {sniffed}."))
    problem = _structure_problem(data, sniffed)
    if problem == "active_content":
        raise Refused("active_content",
                      ("El archivo contiene código o marcado ejecutable (HTML, script); no se acepta.",
                       "The file contains executable code or markup (HTML, script); it is not accepted."))
    if problem == "trailing_data":
        raise Refused("trailing_data",
                      (f"El archivo tiene datos después del final del formato {sniffed}; no se acepta.",
                       f"The file has data after the end of its {sniffed} format; it is not accepted."))
    return sniffed


_UNSAFE_NAME = re.compile(r"[\"\\/:*?<>|]+")


def safe_filename(name: str | None, content_type: str) -> str:
    """A display name without paths, control or bidirectional formatting characters
    (``clean_filename``), at most 200 characters, ending in the extension of the type the bytes
    really are."""
    base = clean_filename(unicodedata.normalize("NFC", name or ""), default="")
    base = _UNSAFE_NAME.sub("_", base).strip(" .") or "archivo"
    ext = _EXTENSIONS[content_type]
    stem, dot, old = base.rpartition(".")
    if dot and ("." + old.lower() == ext or (ext == ".jpg" and old.lower() in ("jpeg", "jpe", "jfif"))):
        base, ext = stem, "." + old
    return base[: 200 - len(ext)] + ext
