"""Node identities: ids, keys, CSRs, the fleet CA and the trust store, in process."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from edge.codes import COUNTRIES_ALPHA2
from edge.timeutil import system_utcnow
from provisioning.identity.ca import (
    FleetCA,
    create_ca,
    init_ca,
    issue_file,
    load_ca,
    server_alt_name,
)
from provisioning.identity.certificates import CertificateData, certificate_pem, load_csr
from provisioning.identity.csr import NODE_CERT, create_csr, init_node
from provisioning.identity.errors import (
    AlreadyExistsError,
    IdentityError,
    InvalidNodeIdError,
    IssueError,
    KeyFileError,
    Reason,
    TrustStoreError,
    UntrustedError,
)
from provisioning.identity.files import write_atomically
from provisioning.identity.keys import (
    decode_public_key,
    encode_public_key,
    fingerprint,
    generate_key,
    load_private_key,
    save_private_key,
)
from provisioning.identity.node_id import NodeId
from provisioning.identity.profile import node_alt_names, node_subject
from provisioning.identity.trust import Revocations, TrustedCA, TrustStore

NURZHOLY = NodeId.parse("KZ-NURZHOLY-1")
DOSTUK = NodeId.parse("KG-DOSTUK-1")


def node_certificate(
    ca: FleetCA,
    node_id: NodeId = NURZHOLY,
    *,
    days: int = 30,
    servers: Sequence[str] = (),
    not_before: dt.datetime | None = None,
) -> x509.Certificate:
    csr = create_csr(generate_key(), node_id)
    return ca.issue(csr, days=days, servers=servers, not_before=not_before).certificate


def store_of(
    *authorities: tuple[FleetCA, set[str]],
    pinned: Mapping[NodeId, Ed25519PublicKey] | None = None,
    revoked: Revocations | None = None,
) -> TrustStore:
    cas = tuple(TrustedCA(ca.certificate, frozenset(countries)) for ca, countries in authorities)
    return TrustStore(cas, pinned or {}, revoked or Revocations())


def untrusted(
    store: TrustStore, certificate: CertificateData, node_id: NodeId | None = None
) -> UntrustedError:
    def check() -> object:
        if node_id is None:
            return store.verify_certificate(certificate)
        return store.public_key_for(node_id, certificate)

    with pytest.raises(UntrustedError) as caught:
        check()
    return caught.value


@pytest.fixture(scope="module")
def kz_ca() -> FleetCA:
    return create_ca("KZ", not_before=system_utcnow() - dt.timedelta(days=30))


@pytest.fixture(scope="module")
def kg_ca() -> FleetCA:
    return create_ca("KG", not_before=system_utcnow() - dt.timedelta(days=30))


# --- node ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "country", "post", "number"),
    [
        ("KZ-NURZHOLY-1", "KZ", "NURZHOLY", 1),
        ("KG-DOSTUK-12", "KG", "DOSTUK", 12),
        ("KZ-CIS", "KZ", "CIS", None),
        ("UZ-BROKER2", "UZ", "BROKER2", None),
    ],
)
def test_node_ids_of_posts_and_of_central_systems_parse(
    text: str, country: str, post: str, number: int | None
) -> None:
    node_id = NodeId.parse(text)
    assert (node_id.country, node_id.post, node_id.number) == (country, post, number)
    assert str(node_id) == text
    assert node_id.urn == f"urn:carec:node:{text}"
    assert node_id.dns_name == text.lower()
    assert NodeId.from_urn(node_id.urn) == node_id


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("kz-nurzholy-1", "write it in capitals"),
        ("XX-NURZHOLY-1", "'XX' is not an ISO 3166-1 alpha-2 country"),
        ("KZ-NURZHOLY-01", "is not <country>-<post>-<n>"),
        ("KZ-NUR-ZHOLY-1", "is not <country>-<post>-<n>"),
        ("KZ-1NURZHOLY", "is not <country>-<post>-<n>"),
        ("KZ", "is not <country>-<post>-<n>"),
        ("", "is not <country>-<post>-<n>"),
        ("KZ-NURZHOLY-1\n", "is not <country>-<post>-<n>"),
        ("KZ-NURZHOLY-\u0661", "is not <country>-<post>-<n>"),
    ],
)
def test_malformed_node_ids_are_rejected_with_the_fix(text: str, complaint: str) -> None:
    with pytest.raises(InvalidNodeIdError, match=complaint):
        NodeId.parse(text)


@given(
    country=st.sampled_from(sorted(COUNTRIES_ALPHA2)),
    post=st.from_regex(r"\A[A-Z][A-Z0-9]{0,31}\Z"),
    number=st.none() | st.integers(1, 9999),
)
def test_every_well_formed_node_id_round_trips_and_is_a_dns_label(
    country: str, post: str, number: int | None
) -> None:
    node_id = NodeId(country, post, number)
    assert NodeId.parse(str(node_id)) == node_id
    assert len(node_id.dns_name) <= 63
    assert server_alt_name(node_id.dns_name) == x509.DNSName(node_id.dns_name)


# --- keys and files ---------------------------------------------------------------------------


def test_private_key_is_written_0600_and_never_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.key"
    first, second = generate_key(), generate_key()
    old_umask = os.umask(0)
    try:
        save_private_key(first, path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(AlreadyExistsError, match=r"node\.key exists"):
        save_private_key(second, path)
    assert fingerprint(load_private_key(path).public_key()) == fingerprint(first.public_key())
    save_private_key(second, path, overwrite=True)
    assert fingerprint(load_private_key(path).public_key()) == fingerprint(second.public_key())
    assert sorted(p.name for p in path.parent.iterdir()) == ["node.key"]


def test_public_files_get_their_mode_whatever_the_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        path = write_atomically(tmp_path / "node.csr", b"x", mode=0o644)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_key_file_of_another_kind_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="expected an Ed25519 key"):
        load_private_key(path)
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(KeyFileError, match="not an unencrypted PEM private key"):
        load_private_key(tmp_path / "junk.key")
    with pytest.raises(KeyFileError, match="cannot read the key"):
        load_private_key(tmp_path / "missing.key")


def test_fingerprints_have_a_short_form_for_people_and_hex_for_files() -> None:
    key = generate_key().public_key()
    print_ = fingerprint(key)
    assert len(print_.hex) == 64
    assert len(print_.short) == 19
    assert print_.short.count("-") == 3
    assert print_.base32.startswith(print_.short.replace("-", ""))
    assert fingerprint(decode_public_key(encode_public_key(key))) == print_


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("%%%", "not base64"), ("AAAA", "3 bytes, an Ed25519 public key has 32")],
)
def test_bad_public_key_text_is_named(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        decode_public_key(text)


# --- CSRs and the CA --------------------------------------------------------------------------


def test_identity_init_writes_a_key_and_a_csr_that_names_the_node(tmp_path: Path) -> None:
    files = init_node(NURZHOLY, tmp_path)
    csr = load_csr(files.csr)
    assert csr.is_signature_valid
    assert csr.subject == node_subject(NURZHOLY)
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "carec-edge"
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(sans) == node_alt_names(NURZHOLY)
    assert fingerprint(load_private_key(files.key).public_key()) == files.fingerprint


def test_identity_init_keeps_an_existing_identity_unless_forced(
    tmp_path: Path, kz_ca: FleetCA
) -> None:
    first = init_node(NURZHOLY, tmp_path)
    (tmp_path / NODE_CERT).write_bytes(certificate_pem(kz_ca.certificate))
    with pytest.raises(AlreadyExistsError, match="use --force"):
        init_node(NURZHOLY, tmp_path)
    assert fingerprint(load_private_key(first.key).public_key()) == first.fingerprint
    second = init_node(NURZHOLY, tmp_path, force=True)
    assert second.fingerprint != first.fingerprint
    assert not (tmp_path / NODE_CERT).exists(), "the old key's certificate is useless"


def test_ca_certificate_is_a_pathlen_0_ed25519_ca_named_for_its_country(kz_ca: FleetCA) -> None:
    cert = kz_ca.certificate
    assert (
        cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        == "carec-edge fleet CA KZ"
    )
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.key_cert_sign, usage.crl_sign, usage.digital_signature) == (True, True, False)
    cert.verify_directly_issued_by(cert)


def test_node_certificate_is_for_client_auth_with_the_node_names(kz_ca: FleetCA) -> None:
    key = generate_key()
    issued = kz_ca.issue(create_csr(key, NURZHOLY), days=30)
    cert = issued.certificate
    assert issued.node_id == NURZHOLY
    assert cert.subject == node_subject(NURZHOLY)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=30)
    extensions = cert.extensions
    assert list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert list(
        extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ) == node_alt_names(NURZHOLY)
    assert extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (
        extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        == kz_ca.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    )
    extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.serial_number != kz_ca.issue(create_csr(key, NURZHOLY)).certificate.serial_number


def test_server_certificate_adds_server_auth_and_the_host_names(kz_ca: FleetCA) -> None:
    broker = NodeId.parse("KZ-BROKER")
    cert = node_certificate(kz_ca, broker, servers=["localhost", "127.0.0.1", "Broker.Example.kz"])
    usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["kz-broker", "localhost", "broker.example.kz"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


@pytest.mark.parametrize("server", ["", "bad_name", "-lead.example", "a..b", "host name"])
def test_a_server_name_that_is_neither_host_nor_ip_is_refused(kz_ca: FleetCA, server: str) -> None:
    with pytest.raises(IssueError, match="neither a host name nor an IP address"):
        node_certificate(kz_ca, servers=[server])


def test_kz_ca_refuses_to_issue_for_a_kg_node(kz_ca: FleetCA) -> None:
    with pytest.raises(IssueError, match="KG-DOSTUK-1, a node of KG; this CA issues for KZ only"):
        node_certificate(kz_ca, DOSTUK)


def test_ca_refuses_a_csr_altered_after_signing(kz_ca: FleetCA) -> None:
    der = create_csr(generate_key(), NURZHOLY).public_bytes(serialization.Encoding.DER)
    tampered = der.replace(b"KZ-NURZHOLY-1", b"KZ-NURZHOLY-7").replace(
        b"kz-nurzholy-1", b"kz-nurzholy-7"
    )
    assert tampered != der
    with pytest.raises(IssueError, match="altered after signing"):
        kz_ca.issue(x509.load_der_x509_csr(tampered))


def test_ca_refuses_a_csr_with_a_non_ed25519_key(kz_ca: FleetCA) -> None:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(node_subject(NURZHOLY))
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    with pytest.raises(IssueError, match="not an Ed25519 key"):
        kz_ca.issue(csr)


def test_ca_refuses_a_csr_that_names_no_node(kz_ca: FleetCA) -> None:
    key = generate_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mosquitto")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, None)
    with pytest.raises(IssueError, match="does not name a node: node id 'mosquitto'"):
        kz_ca.issue(csr)


@pytest.mark.parametrize(
    ("days", "not_before", "complaint"),
    [
        (0, None, "validity of 0 days; give at least 1"),
        (-5, None, "validity of -5 days"),
        (3650, None, "would outlive the CA"),
        (1, system_utcnow() - dt.timedelta(days=31), "cannot start before its CA"),
    ],
)
def test_ca_refuses_validity_it_cannot_give(
    kz_ca: FleetCA, days: int, not_before: dt.datetime | None, complaint: str
) -> None:
    with pytest.raises(IssueError, match=complaint):
        node_certificate(kz_ca, days=days, not_before=not_before)


def test_an_expired_ca_issues_nothing_new() -> None:
    old_ca = create_ca("KZ", not_before=system_utcnow() - dt.timedelta(days=30), days=10)
    with pytest.raises(IssueError, match="the CA expired on"):
        node_certificate(old_ca)


def test_ca_files_round_trip_and_a_ca_is_never_replaced(tmp_path: Path) -> None:
    files = init_ca("KZ", tmp_path / "ca", days=30)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    loaded = load_ca(tmp_path / "ca")
    assert (loaded.country, loaded.certificate) == ("KZ", files.ca.certificate)
    with pytest.raises(AlreadyExistsError, match="a CA is never replaced"):
        init_ca("KZ", tmp_path / "ca")
    save_private_key(generate_key(), files.key, overwrite=True)
    with pytest.raises(KeyFileError, match=r"ca\.key is not the key of ca\.crt"):
        load_ca(tmp_path / "ca")


def test_ca_init_refuses_an_unknown_country(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="'XX' is not an ISO 3166-1 alpha-2 country"):
        init_ca("XX", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_issue_file_writes_node_crt_beside_the_csr(tmp_path: Path) -> None:
    init_ca("KZ", tmp_path / "ca")
    node = init_node(NURZHOLY, tmp_path / "node")
    issued = issue_file(tmp_path / "ca", node.csr, days=10)
    assert issued.path == tmp_path / "node" / NODE_CERT
    assert x509.load_pem_x509_certificate(issued.path.read_bytes()) == issued.certificate


# --- the trust store --------------------------------------------------------------------------


def test_trust_store_verifies_a_node_of_its_ca_country(kz_ca: FleetCA) -> None:
    key = generate_key()
    cert = kz_ca.issue(create_csr(key, NURZHOLY)).certificate
    store = store_of((kz_ca, {"KZ"}))
    for form in (
        cert,
        certificate_pem(cert),
        certificate_pem(cert).decode(),
        cert.public_bytes(serialization.Encoding.DER),
    ):
        identity = store.verify_certificate(form)
        assert identity.node_id == NURZHOLY
        assert identity.country == "KZ"
        assert identity.not_after == cert.not_valid_after_utc
        assert identity.serial == cert.serial_number
        assert fingerprint(identity.public_key) == fingerprint(key.public_key())
    assert fingerprint(store.public_key_for(NURZHOLY, cert)) == fingerprint(key.public_key())


def test_a_certificate_from_an_unlisted_ca_is_unknown(kz_ca: FleetCA, kg_ca: FleetCA) -> None:
    error = untrusted(store_of((kz_ca, {"KZ"})), node_certificate(kg_ca, DOSTUK))
    assert error.reason is Reason.UNKNOWN_CA
    assert "carec-edge fleet CA KG" in str(error)


def test_a_certificate_from_a_lookalike_ca_of_the_same_name_fails_its_signature(
    kz_ca: FleetCA,
) -> None:
    impostor = create_ca("KZ")
    error = untrusted(store_of((kz_ca, {"KZ"})), node_certificate(impostor))
    assert error.reason is Reason.BAD_SIGNATURE


def test_a_ca_vouches_only_for_the_countries_it_is_trusted_for(
    kz_ca: FleetCA, kg_ca: FleetCA
) -> None:
    lax_kg_ca = FleetCA("KZ", kg_ca.key, kg_ca.certificate)  # a KG CA that signs a KZ node
    error = untrusted(store_of((kz_ca, {"KZ"}), (kg_ca, {"KG"})), node_certificate(lax_kg_ca))
    assert error.reason is Reason.WRONG_COUNTRY
    assert "vouches for KG, not for KZ-NURZHOLY-1" in str(error)


def test_an_expired_certificate_is_refused(kz_ca: FleetCA) -> None:
    cert = node_certificate(kz_ca, not_before=system_utcnow() - dt.timedelta(days=3), days=1)
    error = untrusted(store_of((kz_ca, {"KZ"})), cert)
    assert error.reason is Reason.EXPIRED
    assert "certificate of KZ-NURZHOLY-1 expired at" in str(error)
    assert store_of((kz_ca, {"KZ"})).verify_certificate(
        cert, at=system_utcnow() - dt.timedelta(days=2, hours=12)
    )


def test_a_certificate_not_yet_valid_is_refused(kz_ca: FleetCA) -> None:
    cert = node_certificate(kz_ca, not_before=system_utcnow() + dt.timedelta(days=1), days=1)
    assert untrusted(store_of((kz_ca, {"KZ"})), cert).reason is Reason.NOT_YET_VALID


def test_an_expired_ca_vouches_for_nobody() -> None:
    old_ca = create_ca("KZ", not_before=system_utcnow() - dt.timedelta(days=30), days=10)
    cert = node_certificate(old_ca, not_before=system_utcnow() - dt.timedelta(days=25), days=3)
    error = untrusted(store_of((old_ca, {"KZ"})), cert)
    assert (error.reason, "CA" in error.detail) == (Reason.EXPIRED, True)


def test_a_revoked_serial_is_refused(kz_ca: FleetCA) -> None:
    cert = node_certificate(kz_ca)
    store = store_of((kz_ca, {"KZ"}), revoked=Revocations(serials=frozenset({cert.serial_number})))
    error = untrusted(store, cert)
    assert error.reason is Reason.REVOKED
    assert f"serial {cert.serial_number:x} is revoked" in str(error)
    store.verify_certificate(node_certificate(kz_ca))


def test_a_revoked_key_is_refused_in_every_certificate_and_pin(kz_ca: FleetCA) -> None:
    key = generate_key()
    cert = kz_ca.issue(create_csr(key, NURZHOLY)).certificate
    revoked = Revocations(key_fingerprints=frozenset({fingerprint(key.public_key()).digest}))
    store = store_of((kz_ca, {"KZ"}), revoked=revoked, pinned={NURZHOLY: key.public_key()})
    assert untrusted(store, cert).reason is Reason.REVOKED
    with pytest.raises(UntrustedError, match="revoked"):
        store.public_key_for(NURZHOLY)


def test_a_pinned_node_without_a_ca_is_trusted_by_its_key_alone() -> None:
    cis = NodeId.parse("KG-CIS")
    key = generate_key().public_key()
    store = TrustStore(pinned={cis: key})
    assert store.public_key_for(cis) is key
    with pytest.raises(UntrustedError, match="unknown node: KZ-NURZHOLY-1 has no pinned key"):
        store.public_key_for(NURZHOLY)


def test_a_certificate_whose_key_differs_from_the_pin_is_refused(kz_ca: FleetCA) -> None:
    key = generate_key()
    cert = kz_ca.issue(create_csr(key, NURZHOLY)).certificate
    matching = store_of((kz_ca, {"KZ"}), pinned={NURZHOLY: key.public_key()})
    assert fingerprint(matching.public_key_for(NURZHOLY, cert)) == fingerprint(key.public_key())
    other = store_of((kz_ca, {"KZ"}), pinned={NURZHOLY: generate_key().public_key()})
    assert untrusted(other, cert, NURZHOLY).reason is Reason.PINNED_KEY_MISMATCH


def test_a_certificate_of_another_node_does_not_speak_for_this_one(kz_ca: FleetCA) -> None:
    store = store_of((kz_ca, {"KZ"}))
    error = untrusted(store, node_certificate(kz_ca), NodeId.parse("KZ-NURZHOLY-2"))
    assert error.reason is Reason.NODE_MISMATCH


def test_garbage_and_ca_certificates_are_malformed_node_certificates(kz_ca: FleetCA) -> None:
    store = store_of((kz_ca, {"KZ"}))
    assert untrusted(store, b"\x00garbage").reason is Reason.MALFORMED
    assert untrusted(store, "-----BEGIN CERTIFICATE-----\nAAAA\n").reason is Reason.MALFORMED
    assert untrusted(store, kz_ca.certificate).reason is Reason.MALFORMED


def test_a_certificate_whose_cn_and_uri_disagree_is_malformed(kz_ca: FleetCA) -> None:
    key = generate_key().public_key()
    now = system_utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(node_subject(NURZHOLY))
        .issuer_name(kz_ca.certificate.subject)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(node_alt_names(NodeId.parse("KZ-NURZHOLY-2"))),
            critical=False,
        )
        .sign(kz_ca.key, None)
    )
    error = untrusted(store_of((kz_ca, {"KZ"})), cert)
    assert error.reason is Reason.MALFORMED
    assert "disagrees with CN KZ-NURZHOLY-1" in str(error)


# --- the trust store file ---------------------------------------------------------------------


def test_trust_store_file_lists_cas_pins_and_revocations(
    tmp_path: Path, kz_ca: FleetCA, kg_ca: FleetCA
) -> None:
    (tmp_path / "ca-KZ.crt").write_bytes(certificate_pem(kz_ca.certificate))
    (tmp_path / "ca-KG.crt").write_bytes(certificate_pem(kg_ca.certificate))
    revoked_cert = node_certificate(kz_ca)
    revoked_key = generate_key()
    cis_key = generate_key().public_key()
    (tmp_path / "trust.toml").write_text(
        f"""
[[authority]]
certificate = "ca-KZ.crt"
countries = ["KZ"]

[[authority]]
certificate = "ca-KG.crt"
countries = ["KG"]

[[pinned]]
node = "KG-CIS"
public_key = "{encode_public_key(cis_key)}"

[revoked]
serials = ["{revoked_cert.serial_number:x}"]
keys = ["{fingerprint(revoked_key.public_key()).hex}"]
"""
    )
    store = TrustStore.load(tmp_path / "trust.toml")
    assert store.verify_certificate(node_certificate(kz_ca)).node_id == NURZHOLY
    assert store.verify_certificate(node_certificate(kg_ca, DOSTUK)).node_id == DOSTUK
    assert store.public_key_for(NodeId.parse("KG-CIS")) == cis_key
    assert untrusted(store, revoked_cert).reason is Reason.REVOKED
    revoked_key_cert = kz_ca.issue(create_csr(revoked_key, NURZHOLY)).certificate
    assert untrusted(store, revoked_key_cert).reason is Reason.REVOKED


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [
        (
            '[[authority]]\ncertificate = "ca.crt"\ncountries = ["XX"]\n',
            r"authority\.0\.countries: .*'XX' is not an ISO",
        ),
        ('[[authority]]\ncertificate = "ca.crt"\ncountries = []\n', r"authority\.0\.countries: "),
        (
            '[[authority]]\ncertificate = "missing.crt"\ncountries = ["KZ"]\n',
            r"authority\.0\.certificate: cannot read",
        ),
        (
            '[[authority]]\ncertificate = "node.crt"\ncountries = ["KZ"]\n',
            r"authority\.0\.certificate: .* is not a CA certificate",
        ),
        (
            '[[authority]]\ncertificat = "ca.crt"\ncountries = ["KZ"]\n',
            r"authority\.0\.certificate: Field required; authority\.0\.certificat: Extra inputs",
        ),
        (
            '[[pinned]]\nnode = "kg-cis"\npublic_key = "AAAA"\n',
            r"pinned\.0\.node: .*write it in capitals",
        ),
        ('[[pinned]]\nnode = "KG-CIS"\npublic_key = "AAAA"\n', r"pinned\.0\.public_key: 3 bytes"),
        ('[revoked]\nserials = ["xyz"]\n', r"revoked\.serials: serial 'xyz' is not hexadecimal"),
        ('[revoked]\nkeys = ["abc"]\n', r"revoked\.keys: 'abc' is not a SHA-256 key fingerprint"),
        ("[[authority]\n", "not TOML"),
    ],
)
def test_a_bad_trust_store_file_names_the_key_and_the_problem(
    tmp_path: Path, kz_ca: FleetCA, toml: str, complaint: str
) -> None:
    (tmp_path / "ca.crt").write_bytes(certificate_pem(kz_ca.certificate))
    (tmp_path / "node.crt").write_bytes(certificate_pem(node_certificate(kz_ca)))
    (tmp_path / "trust.toml").write_text(toml)
    with pytest.raises(TrustStoreError, match=complaint):
        TrustStore.load(tmp_path / "trust.toml")


def test_a_missing_trust_store_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match=r"trust\.toml: cannot read the trust store"):
        TrustStore.load(tmp_path / "trust.toml")
