"""SLA clocks (issue 10). Plain Python: no I/O; a clock is a value, each change returns a new one.

A clock runs from ``started_at`` towards a due time: ``base_due`` (the target applied to the
start in the calendar) pushed by the business time it spent paused, so a pause of business
length p moves the due time by p. Rules, each with a test in tests/test_sla_clocks.py:

- first response is met by the first action the customer sees (execute, a mail to the contact,
  finish); its target is never replaced by another one (zammad#5177);
- the resolution clock runs until the case is finished; it pauses while the case waits on the
  customer and resumes with the paused business time added; a priority or type change re-targets it keeping the time already paused
  (glpi#6902, glpi#15605); reopening starts resolution again on a new cycle;
- breached stays breached through a re-target; a removed policy stops the clock, and with it its
  escalations (zammad#4353).

``next_step`` says what the clock does next (a warning at p % of its business time, the breach
at the due time, the ladder's levels after the breach): workflow keeps one timer per clock,
moved in place to that instant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from services.workflow.domain.calendar import WorkCalendar, minus

Target = tuple[str, int]  # (unit, amount): ("business_hours", 4), ("business_days", 10)
Step = tuple[datetime, str, int]  # (at, "warning" | "breach" | "escalate", percent or level)


def _dt(v: Any) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v
    d = datetime.fromisoformat(v)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _iso(v: datetime | None) -> str | None:
    return v.astimezone(UTC).isoformat() if v is not None else None


@dataclass(frozen=True)
class Clock:
    kind: str  # first_response | resolution | internal_commitment
    started_at: datetime
    target: Target | None  # None: a fixed date (internal commitment, an admin's explicit date)
    base_due: datetime
    cycle: int = 1
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()
    warn_percents: tuple[int, ...] = ()
    warned: tuple[int, ...] = ()
    met_at: datetime | None = None
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    levels_done: int = -1  # the highest escalation level emitted (0: the breach itself)

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    @property
    def done(self) -> bool:
        return self.met_at is not None or self.stopped_at is not None

    def state(self) -> str:
        if self.stopped_at is not None:
            return "stopped"
        if self.met_at is not None:
            return "met"
        if self.breached_at is not None:
            return "breached"
        if self.paused:
            return "paused"
        return "warned" if self.warned else "running"

    def closed_pauses(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """The pauses, an open one closed at ``now`` (as if the clock resumed now)."""
        return [(a, b if b is not None else max(a, now)) for a, b in self.pauses]

    def paused_seconds(self, cal: WorkCalendar, now: datetime) -> int:
        return sum(cal.elapsed(a, b) for a, b in self.closed_pauses(now))

    def due_at(self, cal: WorkCalendar, now: datetime) -> datetime:
        """The due time: ``base_due`` pushed by the business time paused (an open pause counted
        up to ``now``)."""
        return cal.add(self.base_due, self.paused_seconds(cal, now))

    def target_seconds(self, cal: WorkCalendar) -> int:
        return cal.elapsed(self.started_at, self.base_due)

    def warning_at(self, cal: WorkCalendar, percent: int, now: datetime) -> datetime:
        """When ``percent`` of the target's business time is used (pauses before it push it)."""
        at = cal.add(self.started_at, self.target_seconds(cal) * percent / 100)
        for a, b in self.closed_pauses(now):
            if a < at:
                at = cal.add(at, cal.elapsed(a, b))
        return at

    def next_step(self, cal: WorkCalendar, now: datetime, ladder_times: list[tuple[int, datetime]]) -> Step | None:
        """The next thing this clock does, or None (paused, met, stopped, nothing left)."""
        if self.paused or self.done:
            return None
        due = self.due_at(cal, now)
        steps: list[Step] = []
        if self.breached_at is None:
            steps.append((due, "breach", 0))
            for p in self.warn_percents:
                if p not in self.warned:
                    at = self.warning_at(cal, p, now)
                    if at < due:
                        steps.append((at, "warning", p))
        else:
            steps += [(at, "escalate", level) for level, at in ladder_times if level > self.levels_done]
        return min(steps, key=lambda s: (s[0], s[2])) if steps else None

    # -- changes ---------------------------------------------------------------------------
    def pause(self, at: datetime) -> Clock:
        return self if self.paused or self.done else replace(self, pauses=(*self.pauses, (at, None)))

    def resume(self, at: datetime) -> Clock:
        if not self.paused:
            return self
        start = self.pauses[-1][0]
        return replace(self, pauses=(*self.pauses[:-1], (start, max(start, at))))

    def meet(self, at: datetime) -> Clock:
        return self if self.done else replace(self.resume(at), met_at=at)

    def stop(self, at: datetime) -> Clock:
        return self if self.done else replace(self.resume(at), stopped_at=at)

    def warn(self, percent: int) -> Clock:
        return replace(self, warned=tuple(sorted({*self.warned, percent})))

    def breach(self, at: datetime) -> Clock:
        return self if self.breached_at is not None else replace(self, breached_at=at)

    def escalated(self, level: int) -> Clock:
        return replace(self, levels_done=max(self.levels_done, level))

    def retarget(self, cal: WorkCalendar, target: Target | None, base_due: datetime | None = None,
                 warn_percents: tuple[int, ...] | None = None) -> Clock:
        """A new target (priority, type, policy or calendar change) from the same start, keeping
        the pauses; a done clock is unchanged and a breached one stays breached."""
        if self.done:
            return self
        new_due = base_due if base_due is not None else (
            cal.due_for(self.started_at, *target) if target is not None else self.base_due)
        return replace(self, target=target, base_due=new_due,
                       warn_percents=self.warn_percents if warn_percents is None else warn_percents)

    # -- storage ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "started_at": _iso(self.started_at),
                "target": list(self.target) if self.target else None, "base_due": _iso(self.base_due),
                "cycle": self.cycle, "pauses": [[_iso(a), _iso(b)] for a, b in self.pauses],
                "warn_percents": list(self.warn_percents), "warned": list(self.warned),
                "met_at": _iso(self.met_at), "breached_at": _iso(self.breached_at),
                "stopped_at": _iso(self.stopped_at), "levels_done": self.levels_done}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Clock:
        return cls(kind=d["kind"], started_at=_dt(d["started_at"]),  # type: ignore[arg-type]
                   target=(d["target"][0], int(d["target"][1])) if d.get("target") else None,
                   base_due=_dt(d["base_due"]), cycle=d.get("cycle", 1),  # type: ignore[arg-type]
                   pauses=tuple((_dt(a), _dt(b)) for a, b in d.get("pauses", [])),  # type: ignore[misc]
                   warn_percents=tuple(d.get("warn_percents", [])), warned=tuple(d.get("warned", [])),
                   met_at=_dt(d.get("met_at")), breached_at=_dt(d.get("breached_at")),
                   stopped_at=_dt(d.get("stopped_at")), levels_done=d.get("levels_done", -1))

    def view(self, cal: WorkCalendar, now: datetime) -> dict[str, Any]:
        """What GET /cases/{id}/sla explains (a ``ClockView`` payload): due time, business time
        paused, the working intervals still to count, and the trace of the due time."""
        due = self.due_at(cal, now)
        pauses = self.closed_pauses(now)
        counted_from = max(now, self.started_at) if not self.done else due
        counted = [iv for a, b in cal.working_intervals(counted_from, due) for iv in _outside(a, b, pauses)]
        return {
            "kind": self.kind,
            "target": {"unit": self.target[0], "amount": self.target[1]} if self.target else None,
            "state": self.state(), "cycle": self.cycle, "started_at": _iso(self.started_at), "due_at": _iso(due),
            "target_seconds": self.target_seconds(cal),
            "paused": [{"start": _iso(a), "end": _iso(b)} for a, b in self.pauses],
            "paused_seconds": self.paused_seconds(cal, now), "warned_percents": list(self.warned),
            "met_at": _iso(self.met_at), "breached_at": _iso(self.breached_at), "calendar": cal.code,
            "counted": [{"start": _iso(a), "end": _iso(b)} for a, b in counted],
            "trace": [{"date": t.date.isoformat(), "skipped": t.skipped, "name": t.name,
                       "counted": [{"start": _iso(a), "end": _iso(b)} for a, b in t.counted]}
                      for t in cal.explain(self.started_at, due, pauses)],
        }


def _outside(a: datetime, b: datetime, pauses: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    return minus(a, b, sorted(pauses))


def start_clock(kind: str, at: datetime, cal: WorkCalendar, target: Target | None, *,
                base_due: datetime | None = None, cycle: int = 1, warn_percents: tuple[int, ...] = ()) -> Clock:
    due = base_due if base_due is not None else cal.due_for(at, *target)  # type: ignore[misc]
    return Clock(kind=kind, started_at=at, target=target, base_due=due, cycle=cycle,
                 warn_percents=tuple(sorted(set(warn_percents))))
