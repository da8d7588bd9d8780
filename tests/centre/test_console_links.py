"""The overview's links: the centre's broker, its relay and a partner's CIE link as real
`PeerLink` objects (built as the service builds them, pointed at no broker and never started;
their connection state is set as paho's callbacks set it), and an SIE partner from its config
with real bundle files. Each row shows the link's state, counters and the partner's backlog,
asked anew at each page. On SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from centre.config import PartnerSection
from centre.console.app import create_console
from centre.console.link_states import link_states
from centre.console.operators import Role, add_operator
from centre.console.settings import ConsoleSettings
from centre.records import RecordDesk
from centre.routing import Routing
from edge.manifest import parse_manifest
from sync.transport import PeerLink, PeerSettings
from tests.centre.conftest import CENTRE, KG_CENTRE, ROUTING, Centre
from tests.centre.console_helpers import FAST_HASHER, PASSWORDS, console_under_test
from tests.fixtures.records import record

CN_CENTRE = "CN-CIS"
# Nothing listens there: the links are never started, only looked at.
NO_BROKER = ("127.0.0.1", 1)


@dataclass
class LinksUnderTest:
    client: TestClient
    broker: PeerLink
    relay: PeerLink
    to_kg: PeerLink
    cn: PartnerSection

    def login(self, who: str) -> None:
        response = self.client.post("/login", data={"login": who, "password": PASSWORDS[who]})
        assert response.status_code == 200, response.text

    def row(self, link: str) -> list[str]:
        return _cells(_row(self.client.get("/").text, f"link-{link}"))


def _row(page: str, row_id: str) -> str:
    found = re.search(rf'<tr[^>]* id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no row {row_id}"
    return found.group(1)


def _cells(row: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def _peer_link(centre: Centre, name: str, client_id: str, *, receive: bool = True) -> PeerLink:
    """A link as `CentreService.build` makes it: mutual TLS with the centre's identity."""
    identity = centre.fleet.nodes[CENTRE]
    settings = PeerSettings(
        name, *NO_BROKER, centre.fleet.ca_bundle, identity / "node.crt", identity / "node.key",
        receive=receive, client_id=client_id,
    )  # fmt: skip
    return PeerLink(settings, CENTRE, centre.outbox if name != "relay" else None, None)


def _at(moment: dt.datetime, *paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"bundle bytes")
        os.utime(path, (moment.timestamp(), moment.timestamp()))


@pytest.fixture
def links(centre: Centre, tmp_path: Path) -> Iterator[LinksUnderTest]:
    engine = centre.engine
    add_operator(engine, "olga", PASSWORDS["olga"], Role.OPERATOR, hasher=FAST_HASHER)
    add_operator(engine, "viktor", PASSWORDS["viktor"], "viewer", hasher=FAST_HASHER)
    add_operator(engine, "irina", PASSWORDS["irina"], Role.OPERATOR, language="ru",
                 hasher=FAST_HASHER)  # fmt: skip
    kg = PartnerSection(
        country="KG", centre=KG_CENTRE, mode="cie", host="broker.kg.example",
        ca_file=centre.fleet.ca_bundle,
    )  # fmt: skip
    cn = PartnerSection(
        country="CN", centre=CN_CENTRE, mode="sie", bundle_out=tmp_path / "to-cn",
        bundle_in=tmp_path / "from-cn",
    )  # fmt: skip
    service_links = [
        _peer_link(centre, "broker", f"{CENTRE}-1"),
        _peer_link(centre, "relay", f"{CENTRE}-1-relay"),
        _peer_link(centre, "cie-KG", f"{CENTRE}-1-KG", receive=False),
    ]
    app = create_console(
        engine, ConsoleSettings(cookie_secure=False), centre_id=CENTRE, routing=ROUTING,
        links=lambda: link_states(service_links, [kg, cn]), hasher=FAST_HASHER,
    )  # fmt: skip
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield LinksUnderTest(client, *service_links, cn)


def test_the_overview_shows_each_link_with_its_state_counters_and_the_partners_backlog(
    links: LinksUnderTest, centre: Centre
) -> None:
    # One record for KG's office: the KZ boxes get it, and the KG centre over the CIE link.
    desk = RecordDesk(centre.engine, centre.outbox, Routing(ROUTING, {"KG": KG_CENTRE}))
    desk.submit([parse_manifest(record(office_destination="KG417000"))], "api:kz-cis")
    links.broker.connected.set()
    links.broker.stats.published, links.broker.stats.received = 40, 25
    links.broker.stats.quarantined, links.broker.stats.connects = 2, 3
    links.to_kg.connected.set()
    links.to_kg.stats.published, links.to_kg.stats.connects = 1, 1
    links.login("olga")
    page = links.client.get("/").text
    assert page.index('id="links"') < page.index('id="boxes"')  # the links above the boxes

    broker = _cells(_row(page, "link-broker"))
    assert broker[:4] == ["broker", "broker (this country's boxes)", "—", "yes"]
    assert broker[4:8] == ["40", "25", "2", "2"]  # published, received, quarantined, reconnects
    assert broker[8:] == ["—", "—", "—"]  # no partner, no bundles
    relay = _cells(_row(page, "link-relay"))
    assert relay[1:8] == ["relay (exits for partners)", "—", "no", "0", "0", "0", "0"]
    assert 'id="link-relay" data-kind="relay" class="down"' in page
    kg = _cells(_row(page, "link-cie-KG"))
    assert kg[:8] == ["cie-KG", "CIE (partner's broker)", KG_CENTRE, "yes", "1", "0", "0", "0"]
    assert kg[8] == "1"  # the record on its way to KG-CIS: the same as its box row's backlog
    assert _cells(_row(page, f"box-{KG_CENTRE}"))[2] == "1"
    assert f'<a href="#box-{KG_CENTRE}">{KG_CENTRE}</a>' in page
    cn = _cells(_row(page, "link-sie-CN"))
    assert cn == [
        "sie-CN", "SIE (file bundles)", CN_CENTRE, "—", "—", "—", "—", "—", "0", "never", "never"
    ]  # fmt: skip

    # The broker drops, the relay comes up: the next page says so.
    links.broker.connected.clear()
    links.relay.connected.set()
    assert links.row("broker")[3] == "no"
    assert links.row("relay")[3] == "yes"


def test_an_sie_partner_shows_when_its_newest_bundles_were_read_and_written(
    links: LinksUnderTest,
) -> None:
    assert links.cn.bundle_in is not None
    assert links.cn.bundle_out is not None
    done = links.cn.bundle_in / "done"
    day = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    _at(day, done / "CN-CIS-to-KZ-CIS-1.bundle")
    _at(day + dt.timedelta(hours=2), done / "CN-CIS-to-KZ-CIS-2.bundle")
    # A bundle refused, and one still waiting to be read, are not bundles read.
    _at(day + dt.timedelta(hours=5), done / "CN-CIS-to-KZ-CIS-3.bundle.refused")
    _at(day + dt.timedelta(hours=6), links.cn.bundle_in / "CN-CIS-to-KZ-CIS-4.bundle")
    _at(day + dt.timedelta(minutes=30), links.cn.bundle_out / "KZ-CIS-to-CN-CIS-1.bundle")
    links.login("olga")
    cn = links.row("sie-CN")
    assert cn[9:] == ["2026-12-01 12:00:00 UTC", "2026-12-01 10:30:00 UTC"]


def test_a_viewer_sees_the_links_too(links: LinksUnderTest) -> None:
    links.to_kg.connected.set()
    links.login("viktor")
    assert links.row("cie-KG")[2:4] == [KG_CENTRE, "yes"]
    assert links.row("broker")[3] == "no"
    assert links.row("sie-CN")[3] == "—"


def test_the_russian_page_shows_the_links_translated(links: LinksUnderTest) -> None:
    links.broker.connected.set()
    links.login("irina")
    page = links.client.get("/").text
    assert '<h2 id="links-title">Каналы связи</h2>' in page
    for heading in ("Канал связи", "Вид", "Подключён", "Переподключения", "Очередь партнёру"):
        assert f"<th>{heading}</th>" in page
    assert "Links" not in page
    assert _cells(_row(page, "link-broker"))[1:4] == ["брокер (пункты страны)", "—", "да"]
    assert _cells(_row(page, "link-relay"))[3] == "нет"
    assert _cells(_row(page, "link-sie-CN"))[1] == "SIE (пакеты файлов)"
    assert _cells(_row(page, "link-sie-CN"))[9:] == ["никогда", "никогда"]


def test_a_console_not_given_the_links_shows_the_boxes_alone(centre: Centre) -> None:
    with console_under_test(centre) as console:
        console.login("olga")
        page = console.client.get("/").text
    assert 'id="links-title"' not in page
    assert 'id="boxes-title"' in page
