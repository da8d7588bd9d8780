"""The report of one assessment under given thresholds: averages per country and per area,
areas at risk, and each pair's candidacy; as JSON (the shape of issue 18) or as text."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from centre.assessment.areas import AREAS, Area, Group
from centre.assessment.averages import area_average, country_average
from centre.assessment.classify import LEVEL_NAMES, Miss, PairClass, at_risk, classify_pairs
from centre.assessment.sheet import Assessment
from centre.assessment.thresholds import Level, Thresholds


@dataclass(frozen=True)
class CountryRow:
    country: str
    readiness: Decimal | None
    maturity: Decimal | None
    partial: bool
    at_risk: tuple[Miss, ...]


@dataclass(frozen=True)
class Report:
    countries: tuple[CountryRow, ...]
    areas: tuple[tuple[Area, Decimal | None], ...]
    pairs: tuple[PairClass, ...]
    thresholds: Thresholds

    def pair(self, a: str, b: str) -> PairClass | None:
        for pair in self.pairs:
            if {pair.a, pair.b} == {a, b}:
                return pair
        return None


def build_report(assessment: Assessment, thresholds: Thresholds) -> Report:
    rows = tuple(
        CountryRow(
            c.country,
            country_average(c, Group.READINESS),
            country_average(c, Group.MATURITY),
            c.partial,
            tuple(at_risk(c, thresholds)),
        )
        for c in assessment.countries
    )
    areas = tuple((area, area_average(assessment, area)) for area in AREAS)
    return Report(rows, areas, tuple(classify_pairs(assessment, thresholds)), thresholds)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def report_json(report: Report) -> dict[str, Any]:
    return {
        "countries": {
            row.country: {
                "readiness": _number(row.readiness),
                "maturity": _number(row.maturity),
                "partial": row.partial,
                "at_risk": [miss.area.key for miss in row.at_risk],
            }
            for row in report.countries
        },
        "pairs": [
            {
                "a": pair.a,
                "b": pair.b,
                "candidate": LEVEL_NAMES[pair.candidate],
                "reasons": [reason.text() for reason in pair.reasons],
            }
            for pair in report.pairs
        ],
    }


def _average(value: Decimal | None, partial: bool) -> str:
    return "—" if value is None else f"{value}{'*' if partial else ''}"


def report_text(report: Report) -> str:
    out = ["Averages per country (N/A left out; * partial assessment)", ""]
    out.append(f"{'country':<8} {'readiness':>9} {'maturity':>9}  areas at risk")
    for row in report.countries:
        risk = ", ".join(f"{m.area.name} {m.score}" for m in row.at_risk) or "—"
        out.append(
            f"{row.country:<8} {_average(row.readiness, row.partial):>9} "
            f"{_average(row.maturity, row.partial):>9}  {risk}"
        )
    out += ["", "Averages per key area over the countries", ""]
    width = max(len(area.name) for area in AREAS)
    out.append(f"{'area':<{width}}  {'group':<9}  average  SIE min  CIE min")
    for area, average in report.areas:
        sie = report.thresholds.minimum(area, Level.SIE)
        cie = report.thresholds.minimum(area, Level.CIE)
        out.append(
            f"{area.name:<{width}}  {area.group.value:<9}  {_average(average, False):>7}  "
            f"{sie:>7}  {cie:>7}"
        )
    out += ["", "Pairs", ""]
    for pair in report.pairs:
        out.append(f"{pair.a}-{pair.b}  {LEVEL_NAMES[pair.candidate]}")
        out += [f"    {reason.text()}" for reason in pair.reasons]
    return "\n".join(out) + "\n"
