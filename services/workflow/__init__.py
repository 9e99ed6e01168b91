"""workflow: lifecycle rules that run over time. Owns each case's deadline and the durable
timers behind it; computes deadlines in business days from the tenant's calendar, and emits
case.deadline_set and, when a deadline passes, case.overdue."""
