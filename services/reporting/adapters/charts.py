"""The reports as charts: small functions, report → SVG text, drawn on the server with pygal
(for the console and for mail-outs). Titles and labels come in the caller's language. The SVG is
static: no scripts (pygal's tooltips would load JavaScript from a CDN; a mail client runs none),
so it shows the same in a browser, an <img> and an e-mail."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pygal  # type: ignore[import-untyped]

from services.reporting import domain_reports as dr

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

TITLES: dict[str, dr.Text] = {
    "sla": {"es": "Cumplimiento de SLA (% cumplido)", "en": "SLA compliance (% met)"},
    "aging": {"es": "Solicitudes abiertas por antigüedad (días corridos)", "en": "Open cases by age (calendar days)"},
    "times": {"es": "Tiempos en horas hábiles", "en": "Times in business hours"},
    "volumes": {"es": "Solicitudes ingresadas por período", "en": "Cases entered per period"},
    "activity": {"es": "Actividad por mes", "en": "Activity per month"},
}
MEDIAN: dr.Text = {"es": "mediana", "en": "median"}
NO_DATA: dr.Text = {"es": "Sin datos", "en": "No data"}


def _chart(kind: type, title: str, lang: str, x_labels: list[str]) -> Any:
    return kind(js=[], title=title, x_labels=x_labels, no_data_text=dr.say(NO_DATA, lang), legend_at_bottom=True, truncate_legend=-1, truncate_label=-1,
                x_label_rotation=20 if len(x_labels) > 6 else 0, disable_xml_declaration=True)


def _render(chart: Any) -> str:
    """The chart as SVG text, without pygal's inline scripts."""
    root = ET.fromstring(chart.render(is_unicode=True))
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{SVG_NS}}}script":
                parent.remove(child)
    return ET.tostring(root, encoding="unicode")


def sla_compliance(report: dr.SlaCompliance, lang: str) -> str:
    c = _chart(pygal.Bar, dr.say(TITLES["sla"], lang), lang, [r.label for r in report.rows])
    c.range = (0, 100)
    for clock in ("first_response", "resolution"):
        c.add(dr.say(dr.CLOCK_NAMES[clock], lang), [getattr(r, clock).met_pct for r in report.rows])
    return _render(c)


def backlog_aging(report: dr.BacklogAging, lang: str) -> str:
    c = _chart(pygal.StackedBar, dr.say(TITLES["aging"], lang), lang, report.buckets)
    for r in report.rows:
        c.add(r.label, [r.buckets[b] for b in report.buckets])
    return _render(c)


def response_times(report: dr.ResponseTimes, lang: str) -> str:
    c = _chart(pygal.Bar, dr.say(TITLES["times"], lang), lang, [r.label for r in report.rows])
    for clock in ("first_response", "resolution"):
        name = dr.say(dr.CLOCK_NAMES[clock], lang)
        c.add(f"{name} ({dr.say(MEDIAN, lang)})", [getattr(r, clock).median_hours for r in report.rows])
        c.add(f"{name} (p90)", [getattr(r, clock).p90_hours for r in report.rows])
    return _render(c)


def volumes(report: dr.Volumes, lang: str) -> str:
    c = _chart(pygal.StackedBar, dr.say(TITLES["volumes"], lang), lang, report.periods)
    for s in report.series:
        c.add(s.label, s.counts)
    return _render(c)


def activity(report: dr.Activity, lang: str) -> str:
    months = sorted({dr.period_key(i.at, "month", report.time_zone) for i in report.items})
    c = _chart(pygal.StackedBar, f"{dr.say(TITLES['activity'], lang)} — {report.subject_name}", lang, months)
    for kind in ("interaction", "case", "task"):
        per = [sum(1 for i in report.items if i.kind == kind and dr.period_key(i.at, "month", report.time_zone) == m)
               for m in months]
        c.add(dr.say(dr.KIND_NAMES[kind], lang), per)
    return _render(c)
