"""The fleet tables' retention (run by the centre's purge job): history buckets past their
resolution's days, cleared alerts and finished commands past theirs, partner revocations of
certificates ended a day ago (every trust store refuses them as expired from then on), update
rollouts finished past rollouts_days with their boxes. A box's latest health, its twin and its
open alerts stay while the box does; a running, paused or planned rollout stays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete

from centre.config import FleetSection
from centre.fleet.partner_revocation import purge_partner_revocations
from centre.store.schema import fleet_alerts, fleet_commands, fleet_health_history
from centre.updates.rollout_rows import purge_rollouts
from edge.timeutil import system_utcnow

PARTNER_REVOCATION_MARGIN_DAYS = 1


def purge_fleet(
    conn: Connection,
    settings: FleetSection,
    now: dt.datetime,
    *,
    system_now: dt.datetime | None = None,
) -> dict[str, int]:
    """What was purged, per table. `system_now`: the operating system's clock (a certificate's
    end is on it, edge.timeutil), by default read now."""
    history = fleet_health_history.c
    purged = 0
    for resolution, days in ((300, settings.history_300s_days),
                             (3600, settings.history_3600s_days)):  # fmt: skip
        before = now - dt.timedelta(days=days)
        purged += conn.execute(
            delete(fleet_health_history)
            .where(history.resolution_s == resolution, history.bucket < before)
        ).rowcount  # fmt: skip
    alerts_before = now - dt.timedelta(days=settings.alerts_days)
    alerts = conn.execute(
        delete(fleet_alerts).where(fleet_alerts.c.cleared_at < alerts_before)
    ).rowcount
    commands_before = now - dt.timedelta(days=settings.commands_days)
    # A command never answered is kept as long after its expiry as a finished one.
    commands = conn.execute(
        delete(fleet_commands).where(
            (fleet_commands.c.finished_at < commands_before)
            | (
                fleet_commands.c.finished_at.is_(None)
                & (fleet_commands.c.expires_at < commands_before)
            )
        )
    ).rowcount
    # A day past the certificate's end: a receiver whose clock lags still refuses it meanwhile.
    revocations = purge_partner_revocations(
        conn, system_now or system_utcnow(), margin_days=PARTNER_REVOCATION_MARGIN_DAYS
    )
    rollouts = purge_rollouts(conn, now, settings.rollouts_days)
    return {
        "history": purged, "alerts": alerts, "commands": commands,
        "partner_revocations": revocations, "rollouts": rollouts,
    }  # fmt: skip
