"""Signed bundles, built by make-bundle's code and checked by the real `rauc info` with the box's
rules: the country's CA only, a codeSigning certificate only, not one byte changed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning.identity.ca import load_ca
from provisioning.update import rauc
from provisioning.update.bundle import BundleError, Signer, build_bundle
from tests.provisioning.update.slot_box import (
    CAREC_EDGE,
    HOOK,
    REPO,
    Keys,
    SlotImage,
    make_keys,
    make_slot_image,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Keys, SlotImage, Path]:
    directory = tmp_path_factory.mktemp("bundle")
    keys = make_keys(directory / "keys")
    image = make_slot_image(directory, "1.2.0")
    signer = Signer(keys.cert, keys.key, keys.keyring)
    bundle = build_bundle(image.rootfs, image.verity_json, directory / "out", signer, hook=HOOK)
    return keys, image, bundle


def test_bundle_is_named_by_the_images_version_and_verifies_against_the_country_ca(
    built: tuple[Keys, SlotImage, Path],
) -> None:
    keys, _image, bundle = built

    info = rauc.verify_bundle(bundle, keyring=keys.keyring)

    assert bundle.name == "carec-edge-1.2.0.raucb"
    assert (info.compatible, info.version) == ("carec-edge-x86_64", "1.2.0")


def test_the_boxs_own_system_conf_accepts_it(
    tmp_path: Path, built: tuple[Keys, SlotImage, Path]
) -> None:
    keys, _image, bundle = built
    conf = tmp_path / "system.conf"
    text = (REPO / "image/rauc/system.conf").read_text()
    conf.write_text(text.replace("/etc/rauc/keyring.pem", str(keys.keyring)))

    assert rauc.verify_bundle(bundle, conf=conf).version == "1.2.0"


def test_another_countrys_ca_refuses_it(
    tmp_path: Path, built: tuple[Keys, SlotImage, Path]
) -> None:
    _keys, _image, bundle = built
    other = make_keys(tmp_path / "other", country="UZ")

    with pytest.raises(rauc.BundleRefusedError, match="unable to get local issuer"):
        rauc.verify_bundle(bundle, keyring=other.keyring)


def test_one_byte_changed_in_the_payload_fails_its_signed_hash_tree(
    tmp_path: Path, built: tuple[Keys, SlotImage, Path]
) -> None:
    """The signature covers the manifest and with it the payload's verity root hash; the box's
    dm-verity then refuses each altered block as RAUC reads it. Here, without device-mapper,
    veritysetup walks the same hash tree in user space."""
    keys, _image, bundle = built
    info = rauc.verify_bundle(bundle, keyring=keys.keyring)
    rauc.verify_payload(bundle, info)
    tampered = tmp_path / bundle.name
    data = bytearray(bundle.read_bytes())
    data[100] ^= 0x01  # inside the squashfs payload
    tampered.write_bytes(data)

    with pytest.raises(rauc.BundleRefusedError, match="payload altered"):
        rauc.verify_payload(tampered, rauc.verify_bundle(tampered, keyring=keys.keyring))


def test_one_byte_changed_in_the_signature_is_refused(
    tmp_path: Path, built: tuple[Keys, SlotImage, Path]
) -> None:
    keys, _image, bundle = built
    tampered = tmp_path / bundle.name
    data = bytearray(bundle.read_bytes())
    data[-40] ^= 0x01  # inside the CMS signature, before its 8-byte size
    tampered.write_bytes(data)

    with pytest.raises(rauc.BundleRefusedError):
        rauc.verify_bundle(tampered, keyring=keys.keyring)


def test_a_certificate_without_code_signing_cannot_sign_an_update(
    tmp_path: Path, built: tuple[Keys, SlotImage, Path]
) -> None:
    keys, image, _bundle = built
    cert, key = _tls_client_certificate(keys, tmp_path)
    bundle = build_bundle(
        image.rootfs, image.verity_json, tmp_path / "out", Signer(cert, key), hook=HOOK
    )

    with pytest.raises(rauc.BundleRefusedError, match="unsuitable certificate purpose"):
        rauc.verify_bundle(bundle, keyring=keys.keyring)


def test_building_checks_the_new_bundle_against_the_ca_given(
    tmp_path: Path, built: tuple[Keys, SlotImage, Path]
) -> None:
    _keys, image, _bundle = built
    other = make_keys(tmp_path / "other", country="UZ")
    keys = built[0]

    with pytest.raises(BundleError, match="does not verify"):
        build_bundle(
            image.rootfs,
            image.verity_json,
            tmp_path / "out",
            Signer(keys.cert, keys.key, other.keyring),
            hook=HOOK,
        )
    assert not list((tmp_path / "out").glob("*.raucb"))


def test_an_ed25519_signer_is_refused_by_rauc_with_its_reason(
    tmp_path: Path, built: tuple[Keys, SlotImage, Path]
) -> None:
    """Why the update signer is ECDSA: RAUC 1.8's CMS signing cannot use an Ed25519 key."""
    keys, image, _bundle = built
    cert, key = _tls_client_certificate(keys, tmp_path, ed25519=True)

    with pytest.raises(BundleError, match="failed to sign"):
        build_bundle(
            image.rootfs, image.verity_json, tmp_path / "out", Signer(cert, key), hook=HOOK
        )


def test_make_bundle_builds_from_build_image_with_dev_keys(tmp_path: Path) -> None:
    """image/build/make-bundle itself, on a copy of the repository's layout."""
    image = make_slot_image(tmp_path, "2.0.0")
    work = tmp_path / "repo"
    (work / "image/build").mkdir(parents=True)
    (work / "image/rauc/hooks").mkdir(parents=True)
    (work / ".venv/bin").mkdir(parents=True)
    (work / "build/image").mkdir(parents=True)
    (work / ".venv/bin/carec-edge").symlink_to(CAREC_EDGE)
    for relative in ("image/build/make-bundle", "image/rauc/hooks/post-install"):
        (work / relative).write_bytes((REPO / relative).read_bytes())
        (work / relative).chmod(0o755)
    os.link(image.rootfs, work / "build/image/rootfs.img")
    os.link(image.verity_json, work / "build/image/rootfs.verity.json")

    result = subprocess.run(
        [str(work / "image/build/make-bundle")], capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr
    bundle = work / "build/image/carec-edge-2.0.0.raucb"
    keyring = work / "build/image/keys/ca/ca.crt"
    assert rauc.verify_bundle(bundle, keyring=keyring).version == "2.0.0"


def _tls_client_certificate(
    keys: Keys, directory: Path, *, ed25519: bool = False
) -> tuple[Path, Path]:
    """A certificate from the same CA but for TLS (clientAuth), as a node's is."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ca = load_ca(keys.ca)
    key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey = (
        Ed25519PrivateKey.generate() if ed25519 else ec.generate_private_key(ec.SECP256R1())
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KZ-NURZHOLY-1")]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca.certificate.not_valid_before_utc)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, None)
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
