"""The centre's risk and assessment decisions past `[retention] risk_days` are purged, except
what is in force: the highest risk profile set version and each partner's latest confirmed
link mode (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert, select

from centre.risk_retention import purge_risk
from centre.store import open_centre_database
from centre.store.schema import (
    assessment_decisions,
    assessment_thresholds,
    risk_inspection_results,
    risk_profile_sets,
    risk_result_profiles,
)
from edge.timeutil import utcnow

NOW = utcnow()
OLD, NEW = NOW - dt.timedelta(days=2000), NOW - dt.timedelta(days=3)


def fill(engine: Engine) -> None:
    with engine.begin() as conn:
        for version, at in ((1, OLD), (2, OLD)):
            conn.execute(insert(risk_profile_sets).values(
                version=version, country="KZ", issued_at=at, issued_by="olga", source="form",
                profiles=1, messages=1, boxes=1, body="{}",
            ))  # fmt: skip
        for n, at in ((1, OLD), (2, NEW)):
            conn.execute(insert(risk_inspection_results).values(
                id=n, node="KZ-KORGAS-1", result_id=n, arrival_id=n, message_id=f"m{n}",
                decision="physical_inspection", outcome="found", findings='["SEAL"]', note=None,
                officer="ivan", lane="red", set_version=2, random=None, recorded_at=at,
                received_at=at,
            ))  # fmt: skip
            conn.execute(insert(risk_result_profiles).values(result=n, name="seals", version=2))
        for n, (partner, at) in enumerate((("KG", OLD), ("KG", OLD), ("CN", OLD), ("KG", NEW))):
            conn.execute(insert(assessment_decisions).values(
                id=n + 1, partner_country=partner, candidate="sie", mode="sie",
                running_mode="cie", reasons="[]", thresholds="{}", reason="2019",
                decided_by="olga", decided_at=at,
            ))  # fmt: skip
        for n in (1, 2):  # both old: the latest is in force
            conn.execute(insert(assessment_thresholds).values(
                id=n, thresholds="", set_by="olga", set_at=OLD
            ))  # fmt: skip


def column(engine: Engine, col: object) -> list[object]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(col)).scalars())  # type: ignore[call-overload]


def test_what_is_past_retention_goes_and_what_is_in_force_stays(database_url: str) -> None:
    engine = open_centre_database(database_url)
    try:
        fill(engine)
        with engine.begin() as conn:
            deleted = purge_risk(conn, NOW - dt.timedelta(days=1830))
        assert deleted == {
            "risk_inspection_results": 1, "risk_result_profiles": 1, "risk_profile_sets": 1,
            "assessment_decisions": 2, "assessment_thresholds": 1,
        }  # fmt: skip
        assert column(engine, risk_profile_sets.c.version) == [2]  # in force, however old
        assert column(engine, risk_inspection_results.c.id) == [2]
        assert column(engine, risk_result_profiles.c.result) == [2]
        # KG's latest (new) and CN's only one, in force however old, stay.
        assert column(engine, assessment_decisions.c.id) == [3, 4]
        assert column(engine, assessment_thresholds.c.id) == [2]
    finally:
        engine.dispose()
