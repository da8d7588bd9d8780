"""The transparency log in the console: the centre's own log with its cosigned checkpoint, the
logs it witnessed and whose copies it compared, and a fork alert whose evidence (two signed
checkpoints of one box's log, one size, two roots) is shown verbatim and escaped: what other
nodes wrote is text, never markup. Operators, viewers and auditors read it; the fleet's
operator does not. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import re
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, insert

from centre.console.operators import Role, add_operator
from centre.console.transparency import ALERTS_PER_PAGE, WITNESSED_PER_PAGE
from edge.store.schema import tlog_alerts, tlog_witnessed
from edge.timeutil import format_utc, utcnow
from sync.tlog.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from sync.tlog.cosignature import Ed25519Cosigner
from sync.tlog.note import Ed25519NoteSigner, parse_note
from sync.tlog.store import EntryKind, TransparencyLog, append, log_origin, pending_entry
from tests.centre.conftest import CENTRE, KG_CENTRE, KORGAS, NURZHOLY, Centre
from tests.centre.console_helpers import FAST_HASHER, ConsoleUnderTest, console_under_test

SCRIPT = "<script>alert('tlog')</script>"
NURZHOLY_KEY = Ed25519PrivateKey.generate()
WITNESS = Ed25519Cosigner(log_origin(KG_CENTRE), Ed25519PrivateKey.generate())


@pytest.fixture
def console(centre: Centre) -> Iterator[ConsoleUnderTest]:
    add_operator(centre.engine, "anton", "anton-password-1", Role.AUDITOR, hasher=FAST_HASHER)
    add_operator(centre.engine, "farida", "farida-password-1", Role.FLEET, hasher=FAST_HASHER)
    with console_under_test(centre) as under_test:
        yield under_test


def centre_log(engine: Engine, entries: int) -> TransparencyLog:
    """The centre's log with `entries` envelopes signed, checkpointed and cosigned by KG's
    centre as its witness."""
    log = TransparencyLog(engine, CENTRE, Ed25519PrivateKey.generate())
    with engine.begin() as conn:
        pending = [
            pending_entry(EntryKind.SIGNED, f"m-{i}", "manifest", NURZHOLY, b"envelope %d" % i)
            for i in range(entries)
        ]
        append(conn, [p for p in pending if p is not None], format_utc(utcnow()))
    stored = log.checkpoint()
    checkpoint = Checkpoint(log.origin, stored.size, stored.root_hash)
    log.add_cosignature(stored.size, WITNESS.name, WITNESS.cosign(checkpoint, 1_800_000_000))
    return log


def box_checkpoint(size: int, leaves: bytes, extension: str) -> str:
    """A signed checkpoint of Nurzholy's log (its own key), its root made of `leaves`."""
    signer = Ed25519NoteSigner(log_origin(NURZHOLY), NURZHOLY_KEY)
    root = hashlib.sha256(leaves).digest()
    return sign_checkpoint(
        Checkpoint(log_origin(NURZHOLY), size, root, (extension,)), signer
    ).decode()


def witnessed(engine: Engine, node: str, size: int, note: str, source: str) -> None:
    """`source` showed this centre `note` of `node`'s log, and the centre kept it."""
    root = parse_checkpoint(parse_note(note.encode()).text).root_hash
    with engine.begin() as conn:
        conn.execute(insert(tlog_witnessed).values(
            log_node=node, size=size, root_hash=root, note=note, source=source,
            seen_at=utcnow(),
        ))  # fmt: skip


def fork_alert(
    engine: Engine,
    first: str,
    second: str,
    at: dt.datetime | None = None,
    verified: tuple[bool | None, ...] = (None, None),
) -> int:
    """A fork of Nurzholy's log as a partner centre reported it (its evidence as
    `sync.tlog.detection` writes it: the two checkpoints, and whether each verified here)."""
    evidence = {
        "kind": "fork",
        "log_node": NURZHOLY,
        "checkpoints": [first, second],
        "proof": [],
        "verified": list(verified),
    }
    with engine.begin() as conn:
        result = conn.execute(insert(tlog_alerts).values(
            detected_at=at or utcnow(), log_node=NURZHOLY, kind="fork",
            detail=f"two roots at size 7 {SCRIPT}", evidence=json.dumps(evidence),
            reported_by=f"{KG_CENTRE} {SCRIPT}", message_id=None,
        ))  # fmt: skip
        return int(result.inserted_primary_key[0])


def pre(page: str, element_id: str) -> str:
    found = re.search(rf'<pre[^>]*id="{element_id}"[^>]*>(.*?)</pre>', page, re.S)
    assert found, f"no <pre id={element_id}>"
    return html.unescape(found.group(1))


def test_an_operator_sees_the_log_its_witnesses_and_a_fork_with_both_checkpoints(
    console: ConsoleUnderTest,
) -> None:
    engine = console.centre.engine
    log = centre_log(engine, 5)
    first = box_checkpoint(7, b"the history KZ was shown", f"note {SCRIPT}")
    second = box_checkpoint(7, b"the history KG was shown", 'note "</pre><b>&amp;')
    witnessed(engine, NURZHOLY, 7, first, NURZHOLY)
    witnessed(engine, NURZHOLY, 7, second, KG_CENTRE)
    witnessed(engine, KORGAS, 3, box_checkpoint(3, b"korgas", "time x"), KORGAS)
    alert_id = fork_alert(engine, first, second, verified=(True, None))
    console.login("olga")

    overview = console.client.get("/").text
    assert 'id="count-tlog-alerts"' in overview
    assert "Transparency log alerts: 1" in overview
    page = console.client.get("/transparency")
    assert page.status_code == 200
    text = page.text
    assert 'id="nav-transparency"' in text
    assert re.search(r'<dd id="own-size">5</dd>', text)
    assert re.search(r'<dd id="own-queued">0</dd>', text)
    latest = log.latest_checkpoint()
    assert latest is not None
    assert f"{WITNESS.name} (1)" in text  # the latest checkpoint's one cosigner
    assert f"<code>{base64.b64encode(latest.root_hash).decode()}</code>" in text
    assert 'id="witnessed-KZ-NURZHOLY-1" class="down"' in text  # two roots at one size
    assert f"{KG_CENTRE}, {NURZHOLY}" in text
    assert 'id="witnessed-KZ-KORGAS-1" class=""' in text
    assert f'id="tlog-alert-{alert_id}" data-kind="fork"' in text
    assert "<script" not in text
    assert f"{KG_CENTRE} &lt;script&gt;alert(" in text  # reported_by, as text

    detail = console.client.get(f"/transparency/alerts/{alert_id}")
    assert detail.status_code == 200
    assert "<script" not in detail.text
    assert "<b>" not in detail.text
    assert pre(detail.text, "note-0-text") == first
    assert pre(detail.text, "note-1-text") == second
    assert 'id="note-0-verified"' in detail.text  # verified here
    assert 'id="note-1-verified"' not in detail.text  # not checked
    assert "checkpoints[0]" in detail.text
    assert "checkpoints[1]" in detail.text
    evidence = console.client.get(f"/transparency/alerts/{alert_id}/evidence.json")
    assert evidence.headers["content-type"].startswith("application/json")
    assert "attachment" in evidence.headers["content-disposition"]
    assert json.loads(evidence.text)["checkpoints"] == [first, second]


def test_an_auditor_and_a_viewer_read_it_and_the_fleet_operator_may_not(
    console: ConsoleUnderTest,
) -> None:
    alert_id = fork_alert(console.centre.engine, "not a note", "neither")
    for login in ("anton", "viktor"):
        console.client.post("/login", data={"login": login, "password": f"{login}-password-1"})
        assert console.client.get("/transparency").status_code == 200, login
        shown = console.client.get(f"/transparency/alerts/{alert_id}")
        assert shown.status_code == 200, login
        assert 'id="no-notes"' in shown.text
    console.client.post("/login", data={"login": "farida", "password": "farida-password-1"})
    assert 'id="nav-transparency"' not in console.client.get("/").text
    for path in ("/transparency", f"/transparency/alerts/{alert_id}",
                 f"/transparency/alerts/{alert_id}/evidence.json"):  # fmt: skip
        refused = console.client.get(path)
        assert refused.status_code == 403, path
        assert "two roots" not in refused.text


def test_alerts_are_newest_first_a_page_at_a_time_and_an_unknown_one_is_not_found(
    console: ConsoleUnderTest,
) -> None:
    engine = console.centre.engine
    start = utcnow() - dt.timedelta(days=1)
    ids = [
        fork_alert(engine, "a", "b", start + dt.timedelta(minutes=i))
        for i in range(ALERTS_PER_PAGE + 2)
    ]
    console.login("olga")
    first = console.client.get("/transparency").text
    shown = [int(i) for i in re.findall(r'id="tlog-alert-(\d+)"', first)]
    assert shown == ids[::-1][:ALERTS_PER_PAGE]
    second = console.client.get("/transparency?page=2").text
    assert [int(i) for i in re.findall(r'id="tlog-alert-(\d+)"', second)] == ids[1::-1]
    assert console.client.get("/transparency/alerts/999999").status_code == 404
    assert console.client.get("/transparency/alerts/0").status_code == 422


def test_a_russian_operator_reads_the_page_in_russian(console: ConsoleUnderTest) -> None:
    fork_alert(console.centre.engine, "a", "b")
    console.login("irina")
    assert "Оповещения журнала прозрачности: 1" in console.client.get("/").text
    page = console.client.get("/transparency").text
    assert "Журнал прозрачности" in page
    assert "форк: две контрольные точки одного размера с разными корнями" in page
    assert "Transparency log" not in page


def test_witnessed_logs_come_a_page_at_a_time(console: ConsoleUnderTest) -> None:
    nodes = [f"KZ-POST{i:03d}-1" for i in range(WITNESSED_PER_PAGE + 1)]
    with console.centre.engine.begin() as conn:
        conn.execute(insert(tlog_witnessed), [
            {"log_node": n, "size": s, "root_hash": bytes(32), "note": "", "source": n,
             "seen_at": utcnow()}
            for n in nodes for s in (1, 2)
        ])  # fmt: skip
    console.login("viktor")
    first = console.client.get("/transparency").text
    assert re.findall(r'<tr id="witnessed-([^"]+)"', first) == nodes[:WITNESSED_PER_PAGE]
    assert 'id="witnessed-next"' in first
    after = nodes[WITNESSED_PER_PAGE - 1]
    assert f'href="/transparency?after={after}"' in first
    second = console.client.get(f"/transparency?after={after}").text
    assert re.findall(r'<tr id="witnessed-([^"]+)"', second) == nodes[WITNESSED_PER_PAGE:]
    assert 'id="witnessed-next"' not in second
