"""Enrolment end to end over real HTTP: the centre's API under uvicorn on a loopback port, its
store on SQLite and PostgreSQL, the country's CA; a box with no identity asks, the operator
compares the code and approves (or refuses), the box installs what it gets and signs with it.
Renewal without an operator; what the endpoints refuse (a wrong proof, a flood)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from sqlalchemy import select

from centre.api import ApiSettings, create_api
from centre.audit import audit_entries
from centre.fleet.enrolment import Enrolments, EnrolmentSettings
from centre.fleet.enrolment_api import Limits, enrolment_router
from centre.store.schema import fleet_boxes
from edge.timeutil import utcnow
from provisioning.fleet import key_rotation
from provisioning.fleet.enrolment import (
    BoxEnrolment,
    BoxPaths,
    EnrolmentFailedError,
    NotEnrolledError,
)
from provisioning.fleet.enrolment_protocol import BoxPeer, StatusRequest, make_proof
from provisioning.identity.csr import NODE_CERT, NODE_KEY
from provisioning.identity.fleet import Fleet
from provisioning.identity.keys import generate_key, load_private_key, raw_public_key
from provisioning.identity.trust import TrustStore
from sync.outbox import Signer
from tests.centre.conftest import Centre

ALTYNKOL, DOSTYK, KALZHAT = "KZ-ALTYNKOL-1", "KZ-DOSTYK-1", "KZ-KALZHAT-1"
DEFAULT_LIMITS = Limits()
PEER = BoxPeer(name="centre", host="broker.kz.example", port=8883, destinations=["KZ-*", "KG-*"])


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the test stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Enrolling:
    centre: Centre
    enrolments: Enrolments
    url: str
    root: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def box(self, node: str, serial: str) -> BoxEnrolment:
        client = httpx.Client(base_url=self.url, timeout=30)
        self.clients.append(client)
        directory = self.root / node
        paths = BoxPaths.of(directory / "identity", directory / "etc" / "trust.toml")
        return BoxEnrolment(client, node, serial, paths)

    def state(self, node: str) -> str | None:
        return self.enrolments.state_of(node)


def settings_for(fleet: Fleet, root: Path, **changes: object) -> EnrolmentSettings:
    base = EnrolmentSettings(
        ca_dir=fleet.root / "ca-KZ", crl_file=root / "crl.pem", trust_store=fleet.trust_store,
        box_peers=(PEER,),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


@contextlib.contextmanager
def serving(enrolments: Enrolments, centre: Centre, limits: Limits) -> Iterator[str]:
    """The centre's API with the enrolment endpoints, on a loopback port; its base URL. The
    socket listens before the server's thread starts: a first request waits in its backlog."""
    app = create_api(
        centre.desk, ApiSettings("KZ", []), enrolment=enrolment_router(enrolments, limits)
    )
    sock = socket.create_server(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert not thread.is_alive(), "the API's server did not stop"


def make_enrolling(
    centre: Centre, tmp_path: Path, limits: Limits = DEFAULT_LIMITS, **changes: object
) -> Iterator[Enrolling]:
    enrolments = Enrolments(
        centre.engine, centre.outbox, settings_for(centre.fleet, tmp_path, **changes)
    )
    with serving(enrolments, centre, limits) as url:
        enrolling = Enrolling(centre, enrolments, url, tmp_path)
        yield enrolling
        for client in enrolling.clients:
            client.close()


@pytest.fixture
def enrolling(centre: Centre, tmp_path: Path) -> Iterator[Enrolling]:
    yield from make_enrolling(centre, tmp_path)


def test_a_new_box_waits_until_the_operator_who_sees_its_code_approves_then_it_joins(
    enrolling: Enrolling,
) -> None:
    box = enrolling.box(ALTYNKOL, "SN-ALTYNKOL-0001")
    code = box.prepare()
    answer = box.request()
    assert (answer.state, answer.node_id, answer.code) == ("pending", ALTYNKOL, code)
    # The console shows the same code the box's screen does.
    [waiting] = enrolling.enrolments.pending()
    assert (waiting.node_id, waiting.serial, waiting.code) == (ALTYNKOL, "SN-ALTYNKOL-0001", code)
    assert box.status().state == "pending"

    enrolling.enrolments.approve(ALTYNKOL, operator="olga")
    answer = box.status()
    assert answer.state == "enrolled"
    assert [p.name for p in answer.peers] == ["centre"]
    certificate_path = box.install(answer)

    # What the box wrote makes a working identity: its trust store vouches for its certificate,
    # and its signer loads (key and certificate agree).
    trust = TrustStore.load(box.paths.trust_store)
    identity = trust.verify_certificate(certificate_path.read_bytes())
    assert str(identity.node_id) == ALTYNKOL
    key = load_private_key(box.paths.identity_dir / NODE_KEY)
    assert raw_public_key(identity.public_key) == raw_public_key(key.public_key())
    assert Signer.load(box.paths.identity_dir, ALTYNKOL).node_id == ALTYNKOL
    assert b"BEGIN CERTIFICATE" in box.paths.ca_bundle.read_bytes()
    assert 'host = "broker.kz.example"' in box.paths.peers_file.read_text()
    assert enrolling.state(ALTYNKOL) == "enrolled"
    [entry] = [e for e in audit_entries(enrolling.centre.engine, f"box:{ALTYNKOL}")]
    assert (entry.operator, entry.action) == ("olga", "fleet.approve")
    assert code in entry.outcome


def test_a_pre_registered_serial_is_enrolled_as_soon_as_it_asks(enrolling: Enrolling) -> None:
    enrolling.enrolments.register(DOSTYK, "SN-DOSTYK-7", operator="olga")
    box = enrolling.box(DOSTYK, "SN-DOSTYK-7")
    box.prepare()
    answer = box.request()
    assert answer.state == "enrolled"
    box.install(answer)
    assert (box.paths.identity_dir / NODE_CERT).exists()
    assert enrolling.enrolments.pending() == []
    # Asking again (the answer was lost) gives the same certificate, not a second one.
    assert box.request().certificate == answer.certificate


def test_a_box_whose_csr_names_another_node_than_its_registration_is_refused(
    enrolling: Enrolling,
) -> None:
    enrolling.enrolments.register(DOSTYK, "SN-DOSTYK-7", operator="olga")
    box = enrolling.box(KALZHAT, "SN-DOSTYK-7")
    box.prepare()
    answer = box.request()
    assert answer.state == "refused"
    assert answer.reason is not None
    assert f"registered as {DOSTYK}" in answer.reason
    assert enrolling.state(DOSTYK) == "registered"  # the registration waits for the right box
    assert enrolling.state(KALZHAT) is None
    assert not (box.paths.identity_dir / NODE_CERT).exists()


def test_a_refused_box_is_told_why_and_stays_refused_until_an_operator_resets_it(
    enrolling: Enrolling,
) -> None:
    box = enrolling.box(KALZHAT, "SN-KALZHAT-1")
    box.prepare()
    assert box.request().state == "pending"
    enrolling.enrolments.refuse(KALZHAT, operator="olga", reason="not a box of ours")
    answer = box.status()
    assert (answer.state, answer.reason) == ("refused", "not a box of ours")
    # Asking again changes nothing, and the waiting loop ends with the refusal.
    assert box.request().state == "refused"
    with pytest.raises(NotEnrolledError, match="not a box of ours"):
        box.wait(threading.Event())
    # Someone else with that serial (another key) learns it is refused, not the reason.
    impostor = enrolling.box(KALZHAT, "SN-KALZHAT-1")
    impostor.paths = BoxPaths.of(enrolling.root / "impostor", enrolling.root / "impostor.toml")
    impostor.prepare()
    assert (impostor.request().state, impostor.request().reason) == ("refused", None)
    enrolling.enrolments.reset(KALZHAT, operator="olga", reason="it was ours after all")
    assert box.request().state == "pending"


class Meanwhile(threading.Event):
    """The waiting loop's pause: instead of time passing, what happens at the centre meanwhile
    (one step each pause)."""

    def __init__(self, *steps: Callable[[], object]) -> None:
        super().__init__()
        self.steps = list(steps)

    def wait(self, timeout: float | None = None) -> bool:
        if self.steps:
            self.steps.pop(0)()
        return False


def test_a_box_whose_request_expired_at_the_centre_sends_it_again_and_is_enrolled(
    enrolling: Enrolling,
) -> None:
    box = enrolling.box(KALZHAT, "SN-KALZHAT-1")
    box.prepare()
    enrolments = enrolling.enrolments
    seen: list[str] = []

    def expire_and_register() -> None:  # 31 days without an operator: the request is purged
        assert enrolments.purge(utcnow() + dt.timedelta(days=31)) == 1
        enrolments.register(KALZHAT, "SN-KALZHAT-1", operator="olga")

    meanwhile = Meanwhile(expire_and_register, lambda: None)
    answer = box.wait(meanwhile, on_pending=lambda a: seen.append(a.state))
    assert seen == ["pending"]
    assert answer.state == "enrolled"  # status said 404; the request, sent again, was enrolled
    assert meanwhile.steps == []


def test_asking_with_a_proof_by_another_key_or_an_old_proof_is_refused(
    enrolling: Enrolling,
) -> None:
    box = enrolling.box(ALTYNKOL, "SN-ALTYNKOL-0001")
    box.prepare()
    box.request()
    enrolling.enrolments.approve(ALTYNKOL, operator="olga")
    client = enrolling.clients[-1]
    forged = make_proof(generate_key(), "status", "SN-ALTYNKOL-0001", now=utcnow())
    response = client.post(
        "/fleet/v1/enrolment/status",
        json=StatusRequest(serial="SN-ALTYNKOL-0001", proof=forged).model_dump(),
    )
    assert response.status_code == 401
    assert "not made by this box's key" in response.json()["detail"]
    assert "certificate" not in response.json()
    key = load_private_key(box.paths.identity_dir / NODE_KEY)
    stale = make_proof(key, "status", "SN-ALTYNKOL-0001", now=utcnow() - dt.timedelta(minutes=6))
    response = client.post(
        "/fleet/v1/enrolment/status",
        json=StatusRequest(serial="SN-ALTYNKOL-0001", proof=stale).model_dump(),
    )
    assert response.status_code == 401
    assert "minutes from the centre's clock" in response.json()["detail"]
    assert box.status().state == "enrolled"  # the real key's fresh proof is taken


def test_a_certificate_near_its_end_is_renewed_without_an_operator(
    centre: Centre, tmp_path: Path
) -> None:
    # Certificates of 20 days, renewed within 30: due as soon as issued.
    for enrolling in make_enrolling(
        centre, tmp_path, box_certificate_days=20, renew_within_days=30
    ):
        enrolling.enrolments.register(DOSTYK, "SN-DOSTYK-7", operator="olga")
        box = enrolling.box(DOSTYK, "SN-DOSTYK-7")
        box.prepare()
        first = box.install(box.request()).read_bytes()
        assert box.renew_if_due(within_days=5) is None  # 20 days left: not due for the box
        renewed = box.renew_if_due(within_days=30)
        assert renewed is not None
        assert renewed.state == "enrolled"
        old = x509.load_pem_x509_certificate(first)
        new = x509.load_pem_x509_certificate((box.paths.identity_dir / NODE_CERT).read_bytes())
        assert new.serial_number != old.serial_number
        assert new.subject == old.subject  # same node id
        assert raw_public_key(new.public_key()) == raw_public_key(old.public_key())  # type: ignore[arg-type]
        with enrolling.centre.engine.connect() as conn:
            row = conn.execute(select(fleet_boxes).where(fleet_boxes.c.node_id == DOSTYK)).one()
        assert (row.serial, row.state) == ("SN-DOSTYK-7", "enrolled")
        assert row.certificate_serial == format(new.serial_number, "x")
        assert audit_entries(enrolling.centre.engine, f"box:{DOSTYK}")[0].action == "fleet.enrol"


def test_a_rotated_key_gets_its_certificate_at_any_time_by_a_proof_of_the_current_one(
    enrolling: Enrolling,
) -> None:
    enrolling.enrolments.register(DOSTYK, "SN-DOSTYK-7", operator="olga")
    box = enrolling.box(DOSTYK, "SN-DOSTYK-7")
    old_code = box.prepare()
    box.install(box.request())
    assert box.complete_rotation() is None  # no rotation under way
    key_rotation.start(box.paths.identity_dir, DOSTYK)  # the centre's rotate_key command
    answer = box.complete_rotation()
    assert answer is not None
    new_key = load_private_key(box.paths.identity_dir / NODE_KEY)
    certificate = x509.load_pem_x509_certificate((box.paths.identity_dir / NODE_CERT).read_bytes())
    assert raw_public_key(certificate.public_key()) == raw_public_key(new_key.public_key())  # type: ignore[arg-type]
    assert answer.code != old_code
    assert box.status().state == "enrolled"  # the centre knows the new key
    assert not (box.paths.identity_dir / key_rotation.NEXT_KEY).exists()


def test_a_renewal_before_it_is_due_or_by_a_box_not_enrolled_is_refused(
    enrolling: Enrolling,
) -> None:
    enrolling.enrolments.register(DOSTYK, "SN-DOSTYK-7", operator="olga")
    box = enrolling.box(DOSTYK, "SN-DOSTYK-7")
    box.prepare()
    box.install(box.request())
    with pytest.raises(EnrolmentFailedError, match="409: the certificate is renewed from"):
        box.renew((box.paths.identity_dir / "node.csr").read_bytes())
    stranger = enrolling.box(KALZHAT, "SN-KALZHAT-1")
    stranger.prepare()
    with pytest.raises(EnrolmentFailedError, match="403: serial SN-KALZHAT-1 is not an enrolled"):
        stranger.renew((stranger.paths.identity_dir / "node.csr").read_bytes())


def test_a_serial_that_floods_and_boxes_beyond_the_waiting_bound_are_turned_away(
    centre: Centre, tmp_path: Path
) -> None:
    limits = Limits(per_address_per_minute=1000, per_serial_per_minute=3)
    for enrolling in make_enrolling(centre, tmp_path, limits, max_pending=1):
        box = enrolling.box(ALTYNKOL, "SN-ALTYNKOL-0001")
        box.prepare()
        statuses = [box.client.post("/fleet/v1/enrolment", json={
            "serial": box.serial, "csr": (box.paths.identity_dir / "node.csr").read_text(),
        }).status_code for _ in range(4)]  # fmt: skip
        assert statuses == [202, 202, 202, 429]
        other = enrolling.box(KALZHAT, "SN-KALZHAT-1")
        other.prepare()
        with pytest.raises(EnrolmentFailedError, match="503: 1 boxes wait"):
            other.request()
        assert [p.node_id for p in enrolling.enrolments.pending()] == [ALTYNKOL]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"serial": "SN 1", "csr": "x"}, "serial"),
        ({"serial": "SN-1", "csr": "not a csr"}, "not a PEM certificate signing request"),
        ({"serial": "SN-1"}, "csr"),
    ],
)
def test_requests_that_are_not_enrolment_requests_are_refused_with_a_reason(
    enrolling: Enrolling, body: dict[str, str], detail: str
) -> None:
    response = httpx.post(f"{enrolling.url}/fleet/v1/enrolment", json=body, timeout=30)
    assert response.status_code == 400
    assert detail in response.json()["detail"]
