"""The framework's twenty key areas: ten of readiness, ten of maturity, each with a stable key
(stored, in thresholds files and JSON) and the display name the published table uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Group(StrEnum):
    READINESS = "readiness"
    MATURITY = "maturity"


@dataclass(frozen=True)
class Area:
    key: str
    group: Group
    name: str


def _areas(group: Group, *pairs: tuple[str, str]) -> tuple[Area, ...]:
    return tuple(Area(key, group, name) for key, name in pairs)


AREAS: tuple[Area, ...] = _areas(
    Group.READINESS,
    ("sponsorship", "Sponsorship"),
    ("existing_agreement", "Existing Agreement in Place"),
    ("value_add_defined", "Value-Add Defined"),
    ("business_process", "Business Process"),
    ("information_technology", "Information Technology"),
    ("management", "Management"),
    ("information_sharing_culture", "Intelligence & Information Sharing Culture"),
    ("partnerships", "Partnerships"),
    ("legislation_policy", "Legislation & Policy"),
    ("security_privacy", "Security, Privacy and Confidentiality"),
) + _areas(
    Group.MATURITY,
    ("leadership", "Leadership"),
    ("track_record", "Track Record"),
    ("linkages", "Linkages"),
    ("value_analysis", "Value Analysis & Benchmarking"),
    ("customs_risk_management", "Customs Risk Management"),
    ("process_methodology", "Process & Methodology"),
    ("monitor_evaluate", "Ability to Monitor & Evaluate"),
    ("governance_compliance", "Governance & Compliance"),
    ("project_management", "Project Management"),
    ("program_management", "Program Management"),
)
AREA_BY_KEY: dict[str, Area] = {area.key: area for area in AREAS}


def _folded(text: str) -> str:
    """Case, spaces, '&'/'and' and punctuation folded: 'Legislation and Policy' finds
    'Legislation & Policy'."""
    text = text.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_BY_FOLDED: dict[str, Area] = {_folded(a.name): a for a in AREAS} | {
    _folded(a.key): a for a in AREAS
}


def find_area(text: str) -> Area | None:
    """The area named `text` (its display name or its key, case and punctuation aside)."""
    return _BY_FOLDED.get(_folded(text))


def areas_of(group: Group) -> tuple[Area, ...]:
    return tuple(area for area in AREAS if area.group is group)
