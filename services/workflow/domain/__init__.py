"""workflow's pure rules: business calendars, deadlines, SLA clocks and escalation."""

from services.workflow.domain.calendar import (
    WEEKDAYS,
    BusinessCalendar,
    WorkCalendar,
    calendar_for,
    calendar_from_event,
)
from services.workflow.domain.deadlines import (
    Deadline,
    business_hours_deadline,
    deadline_for,
    explicit_deadline,
    response_deadline,
)

__all__ = ["WEEKDAYS", "BusinessCalendar", "Deadline", "WorkCalendar", "business_hours_deadline", "calendar_for",
           "calendar_from_event", "deadline_for", "explicit_deadline", "response_deadline"]
