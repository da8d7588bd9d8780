"""The IE assessment in the console: the stored score sheet with its report (averages, areas
at risk, each pair's candidacy and reasons), the thresholds in force, and, for the pairs of
this centre's country, the partner link's mode as configured beside the mode operators
confirmed from the classification.

Confirming a mode records the operator's decision (audited); the centre follows the latest one
from its next start where the partner's [[partners]] entry has what the mode needs
(`centre.link_modes`), and the page shows where the mode in force differs. The console never
rewrites the TOML file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine

from centre.assessment.areas import AREAS, Area
from centre.assessment.classify import Miss, NoScores, PairClass, PartialCap
from centre.assessment.report import Report, build_report
from centre.assessment.sheet import Assessment
from centre.assessment.store import (
    Decision,
    SheetSource,
    confirmed_modes,
    current_thresholds,
    decisions,
    load_sheet,
)
from centre.assessment.thresholds import Level
from centre.console.i18n import N_
from centre.console.overview import LinkState

# The areas' names as the console shows them (translated when shown).
AREA_NAMES: dict[str, str] = {
    "sponsorship": N_("Sponsorship"),
    "existing_agreement": N_("Existing Agreement in Place"),
    "value_add_defined": N_("Value-Add Defined"),
    "business_process": N_("Business Process"),
    "information_technology": N_("Information Technology"),
    "management": N_("Management"),
    "information_sharing_culture": N_("Intelligence & Information Sharing Culture"),
    "partnerships": N_("Partnerships"),
    "legislation_policy": N_("Legislation & Policy"),
    "security_privacy": N_("Security, Privacy and Confidentiality"),
    "leadership": N_("Leadership"),
    "track_record": N_("Track Record"),
    "linkages": N_("Linkages"),
    "value_analysis": N_("Value Analysis & Benchmarking"),
    "customs_risk_management": N_("Customs Risk Management"),
    "process_methodology": N_("Process & Methodology"),
    "monitor_evaluate": N_("Ability to Monitor & Evaluate"),
    "governance_compliance": N_("Governance & Compliance"),
    "project_management": N_("Project Management"),
    "program_management": N_("Program Management"),
}
LEVELS: dict[str, str] = {
    Level.NOT_YET: N_("not yet"),
    Level.SIE: N_("SIE (simple exchange)"),
    Level.CIE: N_("CIE (complex exchange)"),
}


@dataclass(frozen=True)
class LinkRow:
    """A pair of this centre's country: the partner link's mode now, and as confirmed."""

    pair: PairClass
    partner: str
    running: str | None  # the config's mode, "sie" or "cie"; None: no link configured
    confirmed: Decision | None

    @property
    def modes_offered(self) -> list[Level]:
        """The modes the classification allows: up to its candidate."""
        return [lvl for lvl in (Level.SIE, Level.CIE) if lvl.rank <= self.pair.candidate.rank]

    @property
    def differs(self) -> bool:
        return self.confirmed is not None and self.confirmed.mode.value != self.running


@dataclass(frozen=True)
class AssessmentPage:
    sheet: Assessment | None
    sources: list[SheetSource]
    report: Report | None
    thresholds_by: str | None  # who set the thresholds; None: the defaults
    thresholds_text: str | None  # as uploaded; None: the defaults
    own_country: str
    links: list[LinkRow]
    decisions: list[Decision]
    links_known: bool  # False: the console was given no links (the modes are unknown)


def running_modes(links: Sequence[LinkState]) -> dict[str, str]:
    """Partner country -> the mode its link runs in (from the service's links)."""
    return {
        link.partner[:2]: link.kind
        for link in links
        if link.kind in ("sie", "cie") and link.partner
    }


def assessment_page(
    engine: Engine, centre_id: str, links: Callable[[], Sequence[LinkState]] | None
) -> AssessmentPage:
    sheet, sources = load_sheet(engine)
    in_force = current_thresholds(engine)
    report = build_report(sheet, in_force.thresholds) if sheet is not None else None
    own = centre_id[:2]
    modes = running_modes(links()) if links is not None else {}
    confirmed = confirmed_modes(engine)
    rows = []
    for pair in report.pairs if report else ():
        if own in (pair.a, pair.b):
            partner = pair.b if pair.a == own else pair.a
            rows.append(LinkRow(pair, partner, modes.get(partner), confirmed.get(partner)))
    return AssessmentPage(
        sheet,
        sources,
        report,
        in_force.set_by,
        in_force.text,
        own,
        rows,
        decisions(engine, 50),
        links is not None,
    )


def reason_parts(reason: Miss | PartialCap | NoScores) -> dict[str, object]:
    """A reason as the template words it in the operator's language."""
    if isinstance(reason, Miss):
        return {
            "kind": "miss", "country": reason.country, "area": reason.area.key,
            "score": reason.score, "level": reason.level.value, "minimum": reason.minimum,
        }  # fmt: skip
    if isinstance(reason, PartialCap):
        return {"kind": "partial", "country": reason.country, "cap": reason.cap.value}
    return {"kind": "none", "country": reason.country}


def areas_with_scores(sheet: Assessment | None) -> list[tuple[Area, dict[str, Decimal | None]]]:
    """Each area with its score per country (for the sheet's table)."""
    if sheet is None:
        return []
    return [(area, {c.country: c.score(area) for c in sheet.countries}) for area in AREAS]
