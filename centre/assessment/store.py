"""The centre's assessment in its database: the score sheet (imported from CSV, or one country
entered in the console), the thresholds an operator set, and the partner link modes operators
confirmed. Writes take the caller's connection, so the console audits in the same transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, delete, insert, select

from centre.assessment.areas import AREA_BY_KEY
from centre.assessment.classify import PairClass
from centre.assessment.sheet import Assessment, CountryScores
from centre.assessment.thresholds import Level, Thresholds, parse_thresholds
from centre.store.schema import (
    assessment_countries,
    assessment_decisions,
    assessment_scores,
    assessment_thresholds,
)
from edge.timeutil import utcnow

HUNDRED = Decimal(100)


def _hundredths(score: Decimal | None) -> int | None:
    return None if score is None else int(score * HUNDRED)


def _score(value: int | None) -> Decimal | None:
    """Hundredths back to the score as written: 300 -> 3.0, 345 -> 3.45."""
    if value is None:
        return None
    return (
        Decimal(value).scaleb(-2).quantize(Decimal("0.1") if value % 10 == 0 else Decimal("0.01"))
    )


def replace_sheet(conn: Connection, assessment: Assessment, operator: str, source: str) -> None:
    """The whole sheet replaced by `assessment` (an imported CSV)."""
    conn.execute(delete(assessment_scores))
    conn.execute(delete(assessment_countries))
    for position, scores in enumerate(assessment.countries):
        _insert_country(conn, scores, position, operator, source)


def put_country(conn: Connection, scores: CountryScores, operator: str) -> None:
    """One country's scores entered (or entered again) by hand; it keeps its place."""
    position = conn.execute(
        select(assessment_countries.c.position).where(
            assessment_countries.c.country == scores.country
        )
    ).scalar()
    if position is None:
        last = conn.execute(select(assessment_countries.c.position).order_by(
            assessment_countries.c.position.desc()).limit(1)).scalar()  # fmt: skip
        position = 0 if last is None else last + 1
    conn.execute(delete(assessment_scores).where(assessment_scores.c.country == scores.country))
    conn.execute(
        delete(assessment_countries).where(assessment_countries.c.country == scores.country)
    )
    _insert_country(conn, scores, position, operator, "form")


def _insert_country(
    conn: Connection, scores: CountryScores, position: int, operator: str, source: str
) -> None:
    conn.execute(
        insert(assessment_countries).values(
            country=scores.country, position=position, partial=scores.partial,
            source=source[:200], entered_by=operator, entered_at=utcnow(),
        )
    )  # fmt: skip
    conn.execute(
        insert(assessment_scores),
        [
            {"country": scores.country, "area": key, "score": _hundredths(score)}
            for key, score in scores.scores.items()
        ],
    )


@dataclass(frozen=True)
class SheetSource:
    country: str
    source: str
    entered_by: str
    entered_at: dt.datetime


def load_sheet(engine: Engine) -> tuple[Assessment | None, list[SheetSource]]:
    """The stored sheet (None when nothing was entered) and where each country's came from."""
    with engine.connect() as conn:
        countries = conn.execute(
            select(assessment_countries).order_by(assessment_countries.c.position)
        ).all()
        rows = conn.execute(select(assessment_scores)).all()
    if not countries:
        return None, []
    scores: dict[str, dict[str, Decimal | None]] = {c.country: {} for c in countries}
    for row in rows:
        if row.country in scores and row.area in AREA_BY_KEY:
            scores[row.country][row.area] = _score(row.score)
    sheet = Assessment(
        tuple(CountryScores(c.country, scores[c.country], bool(c.partial)) for c in countries)
    )
    sources = [SheetSource(c.country, c.source, c.entered_by, c.entered_at) for c in countries]
    return sheet, sources


def set_thresholds(conn: Connection, text: str, operator: str) -> Thresholds:
    """The thresholds of a TOML file (ConfigError when it is not one), kept as uploaded."""
    thresholds = parse_thresholds(text)
    conn.execute(
        insert(assessment_thresholds).values(thresholds=text, set_by=operator, set_at=utcnow())
    )
    return thresholds


@dataclass(frozen=True)
class ThresholdsInForce:
    thresholds: Thresholds
    set_by: str | None  # None: the defaults
    text: str | None  # the TOML as uploaded; None: the defaults


def current_thresholds(engine: Engine) -> ThresholdsInForce:
    """The latest thresholds set; the defaults when none was."""
    query = select(assessment_thresholds).order_by(assessment_thresholds.c.id.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return ThresholdsInForce(Thresholds(), None, None)
    return ThresholdsInForce(parse_thresholds(row.thresholds), row.set_by, row.thresholds)


@dataclass(frozen=True)
class Decision:
    id: int
    partner_country: str
    candidate: Level
    mode: Level
    running_mode: str | None
    reasons: list[str]
    reason: str
    decided_by: str
    decided_at: dt.datetime


def record_decision(
    conn: Connection,
    pair: PairClass,
    partner: str,
    mode: Level,
    running_mode: str | None,
    thresholds: Thresholds,
    operator: str,
    reason: str,
) -> int:
    """An operator's confirmed mode for the link to `partner`, with the classification it
    followed; its id."""
    minimums = {a.key: {"sie": str(s), "cie": str(c)} for a, s, c in thresholds.table()}
    result = conn.execute(
        insert(assessment_decisions).values(
            partner_country=partner, candidate=pair.candidate.value, mode=mode.value,
            running_mode=running_mode,
            reasons=json.dumps([r.text() for r in pair.reasons], ensure_ascii=False),
            thresholds=json.dumps(minimums | {"partial_at_most": thresholds.partial_at_most}),
            reason=reason, decided_by=operator, decided_at=utcnow(),
        )
    )  # fmt: skip
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def decisions(engine: Engine, limit: int = 100) -> list[Decision]:
    """The latest decisions first."""
    query = select(assessment_decisions).order_by(assessment_decisions.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [
            Decision(
                r.id, r.partner_country, Level(r.candidate), Level(r.mode), r.running_mode,
                list(json.loads(r.reasons)), r.reason, r.decided_by, r.decided_at,
            )
            for r in conn.execute(query)
        ]  # fmt: skip


def confirmed_modes(engine: Engine) -> dict[str, Decision]:
    """Each partner country's latest confirmed decision."""
    latest: dict[str, Decision] = {}
    for decision in reversed(decisions(engine, limit=1000)):
        latest[decision.partner_country] = decision
    return latest


def modes_not_applied(engine: Engine, running: Mapping[str, str]) -> list[Decision]:
    """The confirmed modes the running config does not follow yet (`running`: partner country
    -> its [[partners]] mode), e.g. to log at the centre's start."""
    latest = confirmed_modes(engine)
    return [latest[c] for c in sorted(latest) if running.get(c) != latest[c].mode.value]
