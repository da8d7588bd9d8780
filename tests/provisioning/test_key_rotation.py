"""A `rotate_key` command's key rotation in the box's identity directory: the next key and its
CSR beside the current pair, the same request again when asked again, and the new certificate
put in place with its key once the CA has issued it (the old pair kept)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from provisioning.fleet import key_rotation
from provisioning.identity.ca import load_ca
from provisioning.identity.csr import NODE_CERT, NODE_KEY
from provisioning.identity.fleet import make_fleet
from provisioning.identity.keys import load_private_key, raw_public_key

BOX = "KZ-NURZHOLY-1"


def test_a_rotation_makes_a_csr_once_and_installs_the_certificate_for_its_key(
    tmp_path: Path,
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [BOX])
    identity = fleet.nodes[BOX]
    current_key = (identity / NODE_KEY).read_bytes()
    current_cert = (identity / NODE_CERT).read_bytes()

    pem = key_rotation.start(identity, BOX)

    assert pem.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    assert key_rotation.start(identity, BOX) == pem  # asked again: the same request
    assert key_rotation.pending(identity)
    assert (identity / NODE_KEY).read_bytes() == current_key  # the current key signs on
    csr = x509.load_pem_x509_csr(pem)
    ca = load_ca(fleet.root / "ca-KZ")
    with pytest.raises(ValueError, match="not for the key being rotated to"):
        key_rotation.complete(identity, x509.load_pem_x509_certificate(current_cert))

    key_rotation.complete(identity, ca.issue(csr).certificate)

    assert not key_rotation.pending(identity)
    new_key = load_private_key(identity / NODE_KEY)
    new_cert = x509.load_pem_x509_certificate((identity / NODE_CERT).read_bytes())
    assert raw_public_key(new_key.public_key()) == raw_public_key(new_cert.public_key())  # type: ignore[arg-type]
    assert (identity / key_rotation.OLD_KEY).read_bytes() == current_key
    assert (identity / key_rotation.OLD_CERT).read_bytes() == current_cert
