"""The box's side of enrolment without the centre: its serial, its key and code, the proofs it
signs, and what it refuses to install (over HTTP end to end: tests/centre/fleet/test_enrolment.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from edge.timeutil import utcnow
from provisioning.fleet.enrolment import (
    BoxEnrolment,
    BoxPaths,
    EnrolmentFailedError,
    hardware_serial,
    peers_toml,
)
from provisioning.fleet.enrolment_protocol import (
    BoxPeer,
    EnrolmentAnswer,
    ProofError,
    TrustFile,
    check_proof,
    enrolment_code,
    is_enrolment_code,
    make_proof,
)
from provisioning.identity.ca import create_ca, load_ca
from provisioning.identity.csr import NODE_CERT, create_csr, init_node
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.keys import generate_key, load_private_key
from provisioning.identity.node_id import NodeId

NODE = "KZ-ALTYNKOL-1"


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return make_fleet(tmp_path / "fleet", ["KZ-CIS"])


def box_for(tmp_path: Path, node: str = NODE) -> BoxEnrolment:
    paths = BoxPaths.of(tmp_path / "box" / "identity", tmp_path / "box" / "etc" / "trust.toml")
    return BoxEnrolment(httpx.Client(), node, "SN-1", paths)


def enrolled_answer(ca_dir: Path, csr_pem: bytes, node: str = NODE) -> EnrolmentAnswer:
    from cryptography import x509

    ca = load_ca(ca_dir)
    issued = ca.issue(x509.load_pem_x509_csr(csr_pem))
    pem = ca.certificate.public_bytes(serialization.Encoding.PEM).decode()
    return EnrolmentAnswer(
        state="enrolled", node_id=node, code="AAAA-BBBB-CCCC",
        certificate=issued.certificate.public_bytes(serialization.Encoding.PEM).decode(),
        ca_bundle=pem, trust_files=[TrustFile(name="ca-KZ-0.crt", certificate=pem)],
        trust_store='[[authority]]\ncertificate = "ca-KZ-0.crt"\ncountries = ["KZ"]\n',
    )  # fmt: skip


def test_the_serial_is_the_boards_else_the_machine_id(tmp_path: Path) -> None:
    dmi, machine_id = tmp_path / "product_serial", tmp_path / "machine-id"
    machine_id.write_text("0f3c5b9e2a7d4c1e8b6a9d0c3e5f7a21\n")
    dmi.write_text("To be filled by O.E.M.\n")
    assert hardware_serial(dmi, machine_id) == "0f3c5b9e2a7d4c1e8b6a9d0c3e5f7a21"
    dmi.write_text("PF2 X7K9 \n")
    assert hardware_serial(dmi, machine_id) == "PF2-X7K9"
    assert hardware_serial(tmp_path / "unreadable", machine_id).startswith("0f3c")
    with pytest.raises(EnrolmentFailedError, match="--serial"):
        hardware_serial(tmp_path / "none", tmp_path / "none-either")


def test_prepare_makes_the_key_once_and_its_code_is_the_keys(tmp_path: Path) -> None:
    box = box_for(tmp_path)
    code = box.prepare()
    assert is_enrolment_code(code)
    key = load_private_key(box.paths.identity_dir / "node.key")
    assert code == enrolment_code(key.public_key())
    assert box.prepare() == code  # the same key on a second run
    with pytest.raises(EnrolmentFailedError, match="not KZ-OTHER-1"):
        box_for(tmp_path, "KZ-OTHER-1").prepare()


def test_a_proof_holds_only_for_its_key_purpose_serial_csr_and_time() -> None:
    key = generate_key()
    now = utcnow()
    proof = make_proof(key, "renew", "SN-1", csr_pem="CSR", now=now)
    check_proof(proof, key.public_key(), "renew", "SN-1", csr_pem="CSR", now=now)
    for purpose, serial, csr, when in [
        ("status", "SN-1", "CSR", now),
        ("renew", "SN-2", "CSR", now),
        ("renew", "SN-1", "ANOTHER CSR", now),
        ("renew", "SN-1", "CSR", now + dt.timedelta(minutes=5, seconds=1)),
    ]:
        with pytest.raises(ProofError):
            check_proof(proof, key.public_key(), purpose, serial, csr_pem=csr, now=when)  # type: ignore[arg-type]
    with pytest.raises(ProofError, match="not made by this box's key"):
        check_proof(proof, generate_key().public_key(), "renew", "SN-1", csr_pem="CSR", now=now)


def test_the_box_installs_a_good_answer_and_nothing_of_one_that_does_not_hold(
    fleet: Fleet, tmp_path: Path
) -> None:
    box = box_for(tmp_path)
    box.prepare()
    ca_dir = fleet.root / "ca-KZ"
    # A certificate of another key, with this node's name: refused, nothing written.
    stranger = tmp_path / "stranger"
    init_node(NodeId.parse(NODE), stranger)
    wrong_key = enrolled_answer(ca_dir, (stranger / "node.csr").read_bytes())
    with pytest.raises(EnrolmentFailedError, match="not of this box's key"):
        box.install(wrong_key)
    # A certificate from a CA that is not the one sent with it: refused.
    other_ca = create_ca("KZ")
    csr = create_csr(load_private_key(box.paths.identity_dir / "node.key"), NodeId.parse(NODE))
    issued = other_ca.issue(csr).certificate.public_bytes(serialization.Encoding.PEM).decode()
    good = enrolled_answer(ca_dir, (box.paths.identity_dir / "node.csr").read_bytes())
    with pytest.raises(EnrolmentFailedError, match="does not hold"):
        box.install(good.model_copy(update={"certificate": issued}))
    assert not (box.paths.identity_dir / NODE_CERT).exists()
    assert not box.paths.trust_store.exists()

    assert box.install(good) == box.paths.identity_dir / NODE_CERT
    assert box.paths.trust_store.exists()


def test_the_centres_peers_become_sync_peers_of_the_config(tmp_path: Path) -> None:
    import tomllib

    answer = EnrolmentAnswer(
        state="enrolled", node_id=NODE,
        peers=[BoxPeer(name="centre", host="broker.kz", port=8883, destinations=["KZ-*"])],
    )  # fmt: skip
    document = tomllib.loads(peers_toml(answer, tmp_path / "ca-bundle.pem"))
    assert document["sync"]["peers"] == [{
        "name": "centre", "host": "broker.kz", "port": 8883,
        "ca_file": str(tmp_path / "ca-bundle.pem"), "destinations": ["KZ-*"],
    }]  # fmt: skip
