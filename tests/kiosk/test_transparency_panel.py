"""The technician's status page shows the box's transparency log: its size, its latest
checkpoint, who cosigned it and the alerts (a partner's log that forked), escaped and in the
technician's language; an officer's status page shows none of it."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, insert

from edge.store.schema import tlog_alerts
from edge.timeutil import format_utc, utcnow
from sync.tlog.checkpoint import Checkpoint
from sync.tlog.cosignature import Ed25519Cosigner
from sync.tlog.store import EntryKind, TransparencyLog, append, log_origin, pending_entry
from tests.kiosk.conftest import Kiosk
from ui_kiosk.transparency import transparency_view

BOX, PARTNER = "KZ-NURZHOLY-1", "KG-TORUGART-1"
WITNESSES = [
    Ed25519Cosigner(log_origin(node), Ed25519PrivateKey.generate())
    for node in ("KZ-CIS", "KG-TORUGART-1")
]


def box_log(engine: Engine, entries: int, queued: int = 0) -> TransparencyLog:
    """The box's log: `entries` envelopes checkpointed and cosigned by both witnesses, then
    `queued` more appended and not integrated yet."""
    log = TransparencyLog(engine, BOX, Ed25519PrivateKey.generate())
    add_entries(engine, 0, entries)
    stored = log.checkpoint(utcnow() - dt.timedelta(minutes=3))
    checkpoint = Checkpoint(log.origin, stored.size, stored.root_hash)
    for witness in WITNESSES:
        log.add_cosignature(stored.size, witness.name, witness.cosign(checkpoint, 1_800_000_000))
    add_entries(engine, entries, entries + queued)
    return log


def add_entries(engine: Engine, start: int, end: int) -> None:
    pending = [
        pending_entry(EntryKind.SIGNED, f"m-{i}", "decision", "KZ-CIS", b"envelope %d" % i)
        for i in range(start, end)
    ]
    with engine.begin() as conn:
        append(conn, [p for p in pending if p is not None], format_utc(utcnow()))


def fork_alert(engine: Engine, log_node: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(tlog_alerts).values(
            detected_at=utcnow(), log_node=log_node, kind="fork",
            detail="two roots at size 9 <script>alert(1)</script>", evidence="{}",
            reported_by="KZ-CIS", message_id=None,
        ))  # fmt: skip


def test_the_read_model_counts_the_tree_as_the_log_does(kiosk: Kiosk) -> None:
    engine = kiosk.backend.engine
    log = box_log(engine, 300, queued=4)  # over one full tile of 256
    view = transparency_view(engine)
    assert (view.size, view.queued, view.checkpoint_size) == (log.size(), 4, 300)
    assert view.cosigned_size == 300
    assert view.cosigners == sorted(w.name for w in WITNESSES)
    assert (view.alerts, view.alert_count) == ([], 0)


def test_a_technician_sees_the_log_its_cosigners_and_a_fork_alert(kiosk: Kiosk) -> None:
    engine = kiosk.backend.engine
    box_log(engine, 12, queued=2)
    fork_alert(engine, "<script>alert(2)</script>")  # a node id as another node wrote it
    fork_alert(engine, PARTNER)
    kiosk.login("tech")
    page = kiosk.client.get("/status").text
    assert 'data-testid="transparency-status"' in page
    assert '<dd data-testid="tlog-size">12 · 2 waiting to be added</dd>' in page
    assert "12 entries" in page
    assert "carec-edge/KG-TORUGART-1, carec-edge/KZ-CIS" in page
    assert "Alerts: 2" in page
    assert page.index(PARTNER) < page.index("&lt;script&gt;alert(2)")  # newest first
    assert 'data-testid="tlog-alert-row" data-kind="fork"' in page
    assert "Fork: two different histories of one log" in page
    assert PARTNER in page
    assert "<script>alert" not in page
    assert "two roots" not in page  # the detail stays at the centre


def test_a_technician_with_an_empty_log_sees_no_checkpoint_yet(kiosk: Kiosk) -> None:
    kiosk.login("tech")
    page = kiosk.client.get("/status").text
    assert '<dd data-testid="tlog-size">0</dd>' in page
    assert "no witness yet" in page
    assert "Alerts: 0" in page
    assert 'data-testid="tlog-alerts"' not in page


def test_the_panel_speaks_the_technicians_language(kiosk: Kiosk) -> None:
    fork_alert(kiosk.backend.engine, PARTNER)
    tech = kiosk.officers.get("tech")
    assert tech is not None
    kiosk.officers.set_language(tech.id, "ru")
    kiosk.login("tech")
    page = kiosk.client.get("/status").text
    assert "Журнал прозрачности" in page
    assert "Transparency log" not in page


def test_an_officer_does_not_see_the_panel(kiosk: Kiosk) -> None:
    box_log(kiosk.backend.engine, 3)
    fork_alert(kiosk.backend.engine, PARTNER)
    kiosk.login("ivan")
    page = kiosk.client.get("/status")
    assert page.status_code == 200
    assert 'data-testid="sync-status"' in page.text  # the page is there, the panel is not
    assert 'data-testid="transparency-status"' not in page.text
    assert PARTNER not in page.text
    assert "Fork" not in page.text
