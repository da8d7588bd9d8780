"""The box's transparency log as the technician sees it: how many entries it holds, its latest
checkpoint, the witnesses that cosigned the latest cosigned one, and the alerts (a fork, an
inconsistent or truncated log, a failed proof) found in this box's or its peers' logs.

Read on the store's thread from the log's tables (`edge.store.schema`; the log itself is sync's
and is not imported here), each query bounded. Nothing personal is in them: node ids, sizes,
hashes and times."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, func, select

from edge.store.schema import (
    tlog_alerts,
    tlog_checkpoints,
    tlog_cosignatures,
    tlog_entries,
    tlog_tiles,
)
from ui_kiosk.texts import N_

# Hashes a level-0 tile holds when full: C2SP tlog-tiles, height 8 (as `sync.tlog.tiles`).
TILE_WIDTH = 256
ALERTS_SHOWN = 10
MAX_COSIGNERS = 100

# What each kind of alert means, as the technician reads it (translated when shown).
ALERT_KINDS: dict[str, str] = {
    "fork": N_("Fork: two different histories of one log"),
    "inconsistent": N_("Inconsistent: a checkpoint does not extend the earlier one"),
    "truncated": N_("Truncated: entries are missing from the log"),
    "bad_proof": N_("Bad proof: an entry does not match the log"),
}


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class TlogAlertView(_View):
    kind: str  # fork | inconsistent | truncated | bad_proof
    log_node: str  # whose log
    detected_at: dt.datetime


class TransparencyView(_View):
    size: int  # entries integrated into the tree
    queued: int  # appended, not integrated yet
    checkpoint_size: int | None  # the latest checkpoint's; None: none signed yet
    checkpoint_at: dt.datetime | None
    cosigned_size: int | None  # the latest checkpoint a witness cosigned
    cosigners: list[str] = []  # its witnesses, by name
    alerts: list[TlogAlertView] = []  # newest first, at most ALERTS_SHOWN
    alert_count: int = 0


def transparency_view(engine: Engine) -> TransparencyView:
    """On the store's thread: the panel's figures, in one read transaction."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(tlog_checkpoints.c.size, tlog_checkpoints.c.created_at)
            .order_by(tlog_checkpoints.c.size.desc())
            .limit(1)
        ).first()
        cosigned = conn.execute(select(func.max(tlog_cosignatures.c.size))).scalar()
        cosigners = (
            list(
                conn.execute(
                    select(tlog_cosignatures.c.witness)
                    .where(tlog_cosignatures.c.size == cosigned)
                    .order_by(tlog_cosignatures.c.witness)
                    .limit(MAX_COSIGNERS)
                ).scalars()
            )
            if cosigned is not None
            else []
        )
        alerts = conn.execute(
            select(tlog_alerts.c.kind, tlog_alerts.c.log_node, tlog_alerts.c.detected_at)
            .order_by(tlog_alerts.c.detected_at.desc(), tlog_alerts.c.id.desc())
            .limit(ALERTS_SHOWN)
        ).all()
        count = conn.execute(select(func.count()).select_from(tlog_alerts)).scalar_one()
        queued = conn.execute(
            select(func.count()).where(tlog_entries.c.leaf_index.is_(None))
        ).scalar_one()
        size = _tree_size(conn)
    return TransparencyView(
        size=size,
        queued=int(queued),
        checkpoint_size=int(latest.size) if latest is not None else None,
        checkpoint_at=latest.created_at if latest is not None else None,
        cosigned_size=int(cosigned) if cosigned is not None else None,
        cosigners=cosigners,
        alerts=[
            TlogAlertView(kind=a.kind, log_node=a.log_node, detected_at=a.detected_at)
            for a in alerts
        ],
        alert_count=int(count),
    )


def _tree_size(conn: Connection) -> int:
    """The integrated size, from the last level-0 tile (entries may be purged; tiles stay)."""
    row = conn.execute(
        select(tlog_tiles.c.tile_index, tlog_tiles.c.width)
        .where(tlog_tiles.c.level == 0)
        .order_by(tlog_tiles.c.tile_index.desc())
        .limit(1)
    ).first()
    return 0 if row is None else int(row.tile_index) * TILE_WIDTH + int(row.width)
