"""Notification rules (issue 11 item 4): which event reaches which recipient role by which
channels. Plain Python: no I/O (the tenant's rows: services/notifier/adapters/rules_tables.py).

A rule is keyed (event type, recipient role). The defaults below come from the procedures; a
tenant's own row for the same key wins (a tenant with no rows has the defaults). Rules only
*restrict* what the planners in handlers.py / in_app.py produce: a planned e-mail, SMS or in-app
notification is dropped when its rule does not list that channel (or the rule is inactive). A
(event, role) no rule speaks of (the invitation e-mail, the "send mail" action's to/cc) is not
restricted.

Keys as the planners know them:

- The R4.3 e-mails go out once the promised date is known (``case.deadline_set.v1``): they fall
  under the rule of ``case.created.v1`` (``RULE_EVENT``).
- Escalations and SLA warnings (``case.escalated.v1``, ``case.sla_warning.v1``; R0.4's schemes and
  the escalation ladder) go to the recipients workflow chose, by the channels the event names for
  each: one rule per event with the role ``event_recipients`` (each recipient's own reason —
  responsible, manager… — is not a separate rule); its channels cap the event's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

CHANNELS = ("email", "sms", "in_app")
EVENT_RECIPIENTS = "event_recipients"
RECIPIENT_EVENTS = ("case.escalated.v1", "case.sla_warning.v1")
RULE_EVENT = {"case.deadline_set.v1": "case.created.v1"}  # an envelope's type → the rule's event


@dataclass(frozen=True)
class Rule:
    event_type: str
    recipient_role: str
    channels: frozenset[str]
    active: bool = True
    procedure: str = ""  # where the default comes from (../shared/docs/domain.md)
    published: bool = True  # False: no service publishes the event yet (the rule waits for it)


def _r(event: str, role: str, channels: tuple[str, ...], procedure: str, published: bool = True) -> Rule:
    return Rule(event, role, frozenset(channels), True, procedure, published)


# The procedures' defaults. Their channels are also what a tenant may choose from for that key:
# a planner produces nothing on another channel (the contact has no in-app inbox, for one).
DEFAULT_RULES: tuple[Rule, ...] = (
    _r("case.created.v1", "contact", ("email",), "R4.3"),
    _r("case.created.v1", "responsible", ("email", "in_app"), "R4.3, R4.7"),
    _r("case.executed.v1", "responsible", ("in_app",), "R4.7"),
    _r("case.commented.v1", "responsible", ("in_app",), "R4.7"),
    _r("case.mail_requested.v1", "responsible", ("in_app",), "R4.7"),
    _r("case.finished.v1", "contact", ("email",), "R4.6"),
    _r("case.finished.v1", "responsible", ("email", "in_app"), "R4.6, R4.7"),
    _r("task.created.v1", "responsible", ("email",), "R2.4"),
    _r("task.created.v1", "cc", ("email",), "R2.4"),
    # R1.1's churn alerts travel as case.escalated.v1 (kind churn_alert): workflow names the
    # executive and the line above, by e-mail AND SMS, as the tenant configured the levels.
    _r("case.escalated.v1", EVENT_RECIPIENTS, CHANNELS, "R0.4, escalation ladder, R1.1 churn alerts"),
    _r("case.sla_warning.v1", EVENT_RECIPIENTS, CHANNELS, "SLA clocks"),
)
DEFAULTS: dict[tuple[str, str], Rule] = {(r.event_type, r.recipient_role): r for r in DEFAULT_RULES}
EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(r.event_type for r in DEFAULT_RULES))

Overrides = Mapping[tuple[str, str], Rule]


def rule_key(event_type: str, role: str) -> tuple[str, str]:
    """The rule that governs a delivery of ``role`` planned for an event of ``event_type``."""
    event = RULE_EVENT.get(event_type, event_type)
    return (event, EVENT_RECIPIENTS if event in RECIPIENT_EVENTS else role)


def roles_of(event_type: str) -> list[str]:
    return [r.recipient_role for r in DEFAULT_RULES if r.event_type == event_type]


def effective(overrides: Overrides, event_type: str, role: str) -> Rule | None:
    """The tenant's rule for the key (its own row, else the default), or None: not governed."""
    key = rule_key(event_type, role)
    return overrides.get(key) or DEFAULTS.get(key)


def channels_for(rules: Overrides, event_type: str, role: str) -> set[str]:
    """The channels by which ``role`` is told of ``event_type`` for a tenant whose own rules are
    ``rules`` (they win over the defaults). A key no rule speaks of is not restricted (every
    channel); an inactive rule: none."""
    rule = effective(rules, event_type, role)
    if rule is None:
        return set(CHANNELS)
    return set(rule.channels) if rule.active else set()


def all_effective(overrides: Overrides) -> list[tuple[Rule, bool]]:
    """Every rule as the tenant has it: (rule, is the tenant's own), defaults' order, then any
    tenant row for a key the defaults do not have (none today: the API refuses them)."""
    out = [(overrides.get(k, d), k in overrides) for k, d in DEFAULTS.items()]
    out += [(r, True) for k, r in overrides.items() if k not in DEFAULTS]
    return out


# -- SMS length and segments --------------------------------------------------------------------
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")  # two septets each (escape + char)


@dataclass(frozen=True)
class SmsSize:
    length: int  # characters as a person counts them
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_size(text: str) -> SmsSize:
    """Length and segment count of an SMS: GSM-7 when every character is in the GSM 03.38
    alphabet (160 a single message, 153 a segment of a longer one; extension characters count
    two), else UCS-2 (70, and 67 a segment)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 0 if units == 0 else 1 if units <= single else math.ceil(units / part)
    return SmsSize(len(text), encoding, units, segments)
