"""The centre's config file and commands: the example in image/ is valid, a bad file is refused
naming the key, and `carec-edge centre` token/operator/exchange/run do what they say; the API
over mutual TLS takes a client with a certificate of its CA and no other."""

from __future__ import annotations

import datetime as dt
import io
import ssl
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, insert, select

from centre.config import load_centre_config, token_sha256
from centre.console.operators import OperatorStore
from centre.service import CentreService
from centre.store import open_centre_database
from centre.store.schema import console_audit, partner_review
from edge.cli import main
from edge.config import ConfigError
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet
from tests.centre.conftest import CENTRE
from tests.fixtures.pki import issue, make_ca

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "image" / "carec-centre.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "centre.toml"
    path.write_text(text, encoding="utf-8")
    return path


def base(fleet: Fleet, tmp_path: Path) -> str:
    return (
        f'[centre]\nid = "KZ-CIS"\ndatabase = "sqlite:///{tmp_path / "c.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes[CENTRE]}"\n'
        f'trust_store = "{fleet.trust_store}"\n'
    )


def test_the_example_config_in_image_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["centre", "check", "--config", str(EXAMPLE)]) == 0
    assert "ok (KZ-CIS" in capsys.readouterr().out
    config = load_centre_config(EXAMPLE)
    assert config.console is not None  # the example shows every section
    assert config.broker is not None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[centre]\nidd = "KZ-CIS"\n', "centre.idd: unknown key"),
        ('[routing]\nKG417000 = ["KG-TORUGART-1"]\n', "only KZ's offices and boxes"),
        (
            '[[partners]]\ncountry = "KG"\ncentre = "KG-CIS"\nmode = "cie"\n',
            "a cie link needs host",
        ),
        ('[[partners]]\ncountry = "KG"\ncentre = "UZ-CIS"\nmode = "sie"\n', "is not of KG"),
        (
            '[[api.clients]]\nname = "kg"\ncountry = "KG"\ntoken_sha256 = "' + "0" * 64 + '"\n',
            "kg is of KG, not KZ",
        ),
        ('[api]\nclient_ca = "/etc/ca.pem"\n', "client_ca (mutual TLS) needs tls_cert"),
        ('[[webhooks]]\nname = "cis"\nurl = "ftp://x"\nsecret_file = "/k"\n', "not an http"),
    ],
)
def test_a_bad_config_is_refused_naming_what_to_fix(
    tmp_path: Path, text: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_centre_config(path)
    assert named in str(refused.value)
    assert main(["centre", "check", "--config", str(path)]) == 2
    assert named in capsys.readouterr().err


def test_a_token_is_printed_once_with_the_hash_the_config_takes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["centre", "token"]) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[0].rsplit(" ", 1)[1]
    assert f'token_sha256 = "{token_sha256(token)}"' in out[1]


def test_an_operator_is_added_from_the_command_line(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, base(fleet, tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    assert main(["centre", "operator", "anna", "--role", "viewer", "--password-stdin",
                 "--config", str(path)]) == 0  # fmt: skip
    engine = open_centre_database(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    operator = OperatorStore(engine).get("anna")
    assert operator is not None
    assert operator.role.value == "viewer"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["centre", "operator", "boris", "--password-stdin", "--config", str(path)]) == 1


def test_a_sie_exchange_by_hand_writes_and_reads_bundles(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, into = tmp_path / "out", tmp_path / "in"
    into.mkdir()
    text = base(fleet, tmp_path) + (
        f'[[partners]]\ncountry = "CN"\ncentre = "CN-CIS"\nmode = "sie"\n'
        f'bundle_out = "{out}"\nbundle_in = "{into}"\n'
    )
    path = write(tmp_path, text)
    assert main(["centre", "exchange", "CN", "--config", str(path)]) == 0
    assert "read 0 bundle(s)" in capsys.readouterr().out
    assert main(["centre", "exchange", "KG", "--config", str(path)]) == 2
    assert "no SIE partner 'KG'" in capsys.readouterr().err


def test_the_api_over_mutual_tls_takes_only_clients_of_its_ca(fleet: Fleet, tmp_path: Path) -> None:
    servers = make_ca("KZ", tmp_path / "api-ca")
    server = issue(servers, "centre-api", server_names=("127.0.0.1",))
    clients = make_ca("KZ", tmp_path / "clients-ca")
    client = issue(clients, "kz-cis")
    stranger = issue(make_ca("KZ", tmp_path / "other-ca"), "kz-cis")
    config = load_centre_config(write(tmp_path, base(fleet, tmp_path) + (
        f'[api]\nport = 0\ntls_cert = "{server.cert}"\ntls_key = "{server.key}"\n'
        f'client_ca = "{clients.cert}"\n'
    )))  # fmt: skip
    service = CentreService.build(config)
    service.start()
    try:
        assert service.api_listening.wait(30)
        url = f"https://127.0.0.1:{service.api_port}/v1/health"
        trusted = ssl.create_default_context(cafile=str(servers.cert))
        trusted.load_cert_chain(str(client.cert), str(client.key))
        assert httpx.get(url, verify=trusted, timeout=30).json() == {"status": "ok"}
        for who in (None, stranger):
            context = ssl.create_default_context(cafile=str(servers.cert))
            if who is not None:
                context.load_cert_chain(str(who.cert), str(who.key))
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                httpx.get(url, verify=context, timeout=30)
    finally:
        service.close()


def test_retention_purges_old_audit_and_decided_reviews_and_keeps_pending_ones(
    fleet: Fleet, tmp_path: Path
) -> None:
    service = CentreService.build(load_centre_config(write(tmp_path, base(fleet, tmp_path))))
    old = utcnow() - dt.timedelta(days=service.config.retention.records_days + 1)
    review = {
        "partner": "CN-CIS", "received_at": old, "issuer": "CN-CIS", "ref": "R", "version": 1,
        "envelope": b"{}",
    }  # fmt: skip
    with service.engine.begin() as conn:
        for when in (old, utcnow()):
            audit_row = {"at": when, "operator": "anna", "action": "discard", "item": "q:1",
                         "reason": "r", "outcome": "done"}  # fmt: skip
            conn.execute(insert(console_audit).values(**audit_row))
        conn.execute(insert(partner_review).values(
            message_id="decided", state="rejected", decided_by="anna", reason="r",
            decided_at=old, **review,
        ))  # fmt: skip
        conn.execute(insert(partner_review).values(message_id="pending", state="pending", **review))
    service.run_jobs()
    with service.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(console_audit)).scalar() == 1
        kept = conn.execute(select(partner_review.c.message_id)).scalars().all()
    assert kept == ["pending"]
    service.engine.dispose()
