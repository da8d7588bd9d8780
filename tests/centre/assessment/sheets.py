"""Score sheets for the assessment's tests: the shipped 2019 one, and hand-made ones in which
every area has one score but for the few a test sets."""

from __future__ import annotations

from pathlib import Path

from centre.assessment.areas import AREAS

SHIPPED = Path(__file__).parents[3] / "centre" / "assessment" / "data" / "ie-2019-scores.csv"
SHARED = Path("/work/shared/data/ie-assessment-2019/scores.csv")


def sheet_csv(countries: dict[str, dict[str, str]], default: str = "3.0") -> str:
    """A CSV with each country's scores `default` in every area but those it names (by key)."""
    codes = list(countries)
    lines = ["group,area," + ",".join(codes)]
    for area in AREAS:
        cells = [countries[code].get(area.key, default) for code in codes]
        name = f'"{area.name}"' if "," in area.name else area.name
        lines.append(f"{area.group.value},{name}," + ",".join(cells))
    return "\n".join(lines) + "\n"
