"""How long the centre keeps its risk and assessment decisions (`[retention] risk_days`): the
risk profile set versions it issued and the checks' results the boxes reported (the hit rates'
history, and the evidence of what selected each truck), and the link modes and thresholds
operators set for the IE assessment. What is in force stays whatever its age: the highest set
version, each partner's latest confirmed mode, the latest thresholds. (The score sheet itself
is replaced whole by each import.)"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, func, select

from centre.store.schema import (
    assessment_decisions,
    assessment_thresholds,
    risk_inspection_results,
    risk_profile_sets,
    risk_result_profiles,
)


def purge_risk(conn: Connection, before: dt.datetime) -> dict[str, int]:
    """Delete what was issued, reported or decided before `before`; rows deleted, per table."""
    old_results = select(risk_inspection_results.c.id).where(
        risk_inspection_results.c.recorded_at < before
    )
    profiles = conn.execute(
        delete(risk_result_profiles).where(risk_result_profiles.c.result.in_(old_results))
    ).rowcount
    results = conn.execute(
        delete(risk_inspection_results).where(risk_inspection_results.c.recorded_at < before)
    ).rowcount
    in_force = select(func.max(risk_profile_sets.c.version)).scalar_subquery()
    sets = conn.execute(
        delete(risk_profile_sets).where(
            risk_profile_sets.c.issued_at < before, risk_profile_sets.c.version != in_force
        )
    ).rowcount
    latest = (
        select(func.max(assessment_decisions.c.id))
        .group_by(assessment_decisions.c.partner_country)
        .scalar_subquery()
    )
    decisions = conn.execute(
        delete(assessment_decisions).where(
            assessment_decisions.c.decided_at < before, assessment_decisions.c.id.not_in(latest)
        )
    ).rowcount
    current = select(func.max(assessment_thresholds.c.id)).scalar_subquery()
    thresholds = conn.execute(
        delete(assessment_thresholds).where(
            assessment_thresholds.c.set_at < before, assessment_thresholds.c.id != current
        )
    ).rowcount
    return {
        "risk_inspection_results": results, "risk_result_profiles": profiles,
        "risk_profile_sets": sets, "assessment_decisions": decisions,
        "assessment_thresholds": thresholds,
    }  # fmt: skip
