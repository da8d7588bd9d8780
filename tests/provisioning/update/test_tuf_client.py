"""The box refuses an old, frozen, mixed or substituted bundle: TUF metadata from the centre's
real repository, read by the box's ngclient over HTTPS from the real centre service (mutual
TLS with the box's certificate) and from a directory (a USB stick), the same checks on each.
The attacker tampers with the served files; the signing keys stay the centre's."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer._crypto_signer import CryptoSigner
from tuf.api._payload import Snapshot, Timestamp
from tuf.api.metadata import Metadata
from tuf.api.serialization.json import JSONSerializer

from centre.config import load_centre_config
from centre.service import CentreService
from centre.updates.tuf_repository import TufRepository
from edge.cli.context import CliContext
from edge.cli.update_fetch_cmd import add_parser
from edge.timeutil import system_utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.update.tuf_client import (
    DirectorySource,
    HttpsSource,
    UpdateRefused,
    UpdateSource,
    centre_source,
)
from tests.provisioning.update.tuf_box import Box, bundle, repository_at, usb

BOX_NODE = "KZ-NURZHOLY-1"


@dataclass
class Served:
    repository: TufRepository
    source: UpdateSource
    root: Path

    @property
    def metadata(self) -> Path:
        return self.repository.metadata_dir

    def box(self, name: str = "box", running: str = "1.0") -> Box:
        return Box.make(self.root / name, self.repository, running)


@dataclass
class CentreUpdates:
    service: CentreService
    repository_dir: Path
    keys_dir: Path
    fleet: Fleet

    def source(self, node: str = BOX_NODE) -> HttpsSource:
        url = f"https://127.0.0.1:{self.service.updates_port}/updates/v1"
        return centre_source(url, self.fleet.nodes[node], self.fleet.ca_bundle)


@pytest.fixture(scope="module")
def centre_updates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentreUpdates]:
    """The real centre service with its update listener (mutual TLS against the fleet CA)."""
    root = tmp_path_factory.mktemp("centre")
    fleet = make_fleet(root / "fleet", ["KZ-CIS", BOX_NODE])
    repository_dir, keys_dir = root / "updates" / "repository", root / "updates" / "keys"
    TufRepository.init(repository_dir, keys_dir)
    config = root / "centre.toml"
    config.write_text(
        f'[centre]\nid = "KZ-CIS"\ndatabase = "sqlite:///{root / "c.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes["KZ-CIS"]}"\n'
        f'trust_store = "{fleet.trust_store}"\n[api]\nport = 0\n'
        f'[updates]\nrepository = "{repository_dir}"\nkeys_dir = "{keys_dir}"\n'
        # refreshed at start, then not again while the tests tamper with the files
        f"refresh_every_s = 21600\nport = 0\n"
        f'tls_cert = "{fleet.broker_cert}"\ntls_key = "{fleet.broker_key}"\n'
        f'client_ca = "{fleet.ca_bundle}"\n',
        encoding="utf-8",
    )
    service = CentreService.build(load_centre_config(config))
    service.start()
    try:
        assert service.updates_listening.wait(30)
        yield CentreUpdates(service, repository_dir, keys_dir, fleet)
    finally:
        service.close()


@pytest.fixture(params=["https", "usb"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Served:
    """A fresh repository, read by boxes over the centre's HTTPS or from a directory."""
    if request.param == "https":
        centre: CentreUpdates = request.getfixturevalue("centre_updates")
        shutil.rmtree(centre.repository_dir)
        shutil.rmtree(centre.keys_dir)
        repository = TufRepository.init(centre.repository_dir, centre.keys_dir)
        return Served(repository, centre.source(), tmp_path)
    repository = TufRepository.init(tmp_path / "repository", tmp_path / "keys")
    return Served(repository, DirectorySource(repository.directory), tmp_path)


def publish(served: Served, version: str, **options: str) -> str:
    published = served.repository.publish(bundle(served.root / "built", version), version=version,
                                          **options)  # fmt: skip
    return published.name


def test_a_published_bundle_verifies_and_downloads(served: Served) -> None:
    name = publish(served, "2.0")
    box = served.box()
    got = box.fetch(served.source, name)
    expected = (served.root / "built" / name).read_bytes()
    assert got.path.read_bytes() == expected
    assert (got.version, got.length) == ("2.0", len(expected))
    assert got.sha256 == hashlib.sha256(expected).hexdigest()
    assert not list(box.work_dir.glob(".*partial"))


def test_a_frozen_repository_is_refused_once_its_timestamp_has_expired(served: Served) -> None:
    name = publish(served, "2.0")
    # The last timestamp the centre signed, two days ago, valid one day: nobody refreshed it.
    two_days_ago = system_utcnow() - dt.timedelta(days=2)
    stale = repository_at(served.repository.directory, served.repository.keys_dir,
                          clock=lambda: two_days_ago)  # fmt: skip
    stale.refresh()
    with pytest.raises(UpdateRefused, match="expired metadata"):
        served.box().fetch(served.source, name)


def test_an_older_timestamp_after_a_newer_was_seen_is_refused(served: Served) -> None:
    """Freeze by replay: the attacker serves a validly signed, unexpired but older timestamp,
    hiding a newer bundle from a box that has already seen the newer timestamp."""
    first = publish(served, "2.0")
    old_timestamp = (served.metadata / "timestamp.json").read_bytes()
    second = publish(served, "3.0")
    box = served.box()
    assert box.fetch(served.source, second).version == "3.0"
    (served.metadata / "timestamp.json").write_bytes(old_timestamp)
    with pytest.raises(UpdateRefused, match="rollback") as refused:
        box.fetch(served.source, first, force=True)
    assert "timestamp version 2 must be >= 3" in refused.value.reason


def test_targets_rolled_back_by_the_online_keys_are_refused(served: Served) -> None:
    """Even the snapshot and timestamp keys (the centre's online keys) cannot point a box that
    has seen targets v3 back at targets v2."""
    publish(served, "2.0")
    newer = publish(served, "3.0")
    box = served.box()
    box.fetch(served.source, newer)
    repository = served.repository
    resign_snapshot(repository, lambda s: setattr(s.meta["targets.json"], "version", 2))
    with pytest.raises(UpdateRefused, match="rollback") as refused:
        box.fetch(served.source, newer)
    assert "targets.json version 2, got 3" in refused.value.reason


def test_metadata_signed_by_a_key_the_root_does_not_name_is_refused(served: Served) -> None:
    name = publish(served, "2.0")
    intruder = CryptoSigner.generate_ed25519()
    timestamp = Metadata.from_bytes((served.metadata / "timestamp.json").read_bytes())
    timestamp.signed.version += 1
    timestamp.signatures.clear()
    timestamp.sign(intruder)
    (served.metadata / "timestamp.json").write_bytes(timestamp.to_bytes(JSONSerializer()))
    with pytest.raises(UpdateRefused, match="not signed by the trusted root's keys"):
        served.box().fetch(served.source, name)


def test_a_targets_file_of_another_snapshot_is_refused(served: Served) -> None:
    """Mix and match: the snapshot names targets v3; the attacker serves v2's content there
    (a validly signed targets file that lists the older bundle only)."""
    first = publish(served, "2.0")
    publish(served, "3.0")
    shutil.copyfile(served.metadata / "2.targets.json", served.metadata / "3.targets.json")
    with pytest.raises(UpdateRefused, match="mix and match") as refused:
        served.box().fetch(served.source, first)
    assert "Expected targets v3, got v2" in refused.value.reason


def test_a_substituted_bundle_is_refused_and_nothing_is_left(served: Served) -> None:
    name = publish(served, "2.0")
    stored = served.repository.target_path(name)
    original = stored.read_bytes()
    stored.write_bytes(bytes(b ^ 0xFF for b in original[:16]) + original[16:])
    box = served.box()
    with pytest.raises(UpdateRefused, match="sha256 is not the signed one"):
        box.fetch(served.source, name)
    stored.write_bytes(original + b"more")
    with pytest.raises(UpdateRefused, match="more than its signed"):
        box.fetch(served.source, name)
    assert list(box.work_dir.iterdir()) == []


def test_a_box_holding_the_old_root_accepts_a_rotated_one(served: Served) -> None:
    box = served.box()  # its image carries root v1
    assert served.repository.rotate_root(new_keys=2, threshold=2) == 2
    name = publish(served, "2.0")
    assert box.fetch(served.source, name).version == "2.0"
    trusted = Metadata.from_bytes((box.trust.metadata_dir / "root.json").read_bytes())
    assert trusted.signed.version == 2
    assert trusted.signed.roles["root"].threshold == 2


def test_a_root_signed_only_by_a_retired_key_is_refused(served: Served) -> None:
    retired_keys = served.repository.keys_dir
    old_root_key = next(retired_keys.glob("root-*.key"))
    keep = old_root_key.read_bytes()
    served.repository.rotate_root()
    name = publish(served, "2.0")
    box = served.box()  # trusts root v2 (its image was built after the rotation)
    # The old key, stolen, signs a root v3 that names the attacker's keys.
    (retired_keys / old_root_key.name).write_bytes(keep)
    (retired_keys / old_root_key.name).chmod(0o600)
    v2 = Metadata.from_bytes((served.metadata / "2.root.json").read_bytes())
    v2.signed.version = 3
    v2.signatures.clear()
    old = load_pem_private_key(keep, None)
    v2.sign(CryptoSigner(old))
    (served.metadata / "3.root.json").write_bytes(v2.to_bytes(JSONSerializer()))
    with pytest.raises(UpdateRefused, match="not signed by the trusted root's keys"):
        box.fetch(served.source, name)


def test_after_a_leaked_timestamp_key_is_rotated_out_what_it_signs_is_refused(
    served: Served,
) -> None:
    first = publish(served, "2.0")
    box = served.box()
    box.fetch(served.source, first)  # the box trusts the first timestamp key's metadata
    leaked = next(served.repository.keys_dir.glob("timestamp-*.key"))
    stolen = CryptoSigner(load_pem_private_key(leaked.read_bytes(), None))
    assert served.repository.rotate_root(new_keys=0, online=["timestamp"]) == 2
    second = publish(served, "3.0")
    assert box.fetch(served.source, second).version == "3.0"
    assert (served.repository.keys_dir / "retired" / leaked.name).exists()
    # The thief signs a newer timestamp with the old key: the rotated root does not know it.
    timestamp = Metadata.from_bytes((served.metadata / "timestamp.json").read_bytes())
    timestamp.signed.version += 1
    timestamp.signatures.clear()
    timestamp.sign(stolen)
    (served.metadata / "timestamp.json").write_bytes(timestamp.to_bytes(JSONSerializer()))
    with pytest.raises(UpdateRefused, match="not signed by the trusted root's keys"):
        box.fetch(served.source, second, force=True)


def test_a_bundle_for_another_image_is_refused(served: Served) -> None:
    name = publish(served, "2.0", compatible="carec-edge-arm64")
    with pytest.raises(UpdateRefused, match="made for 'carec-edge-arm64'"):
        served.box().fetch(served.source, name)


def test_a_downgrade_is_refused_unless_forced(served: Served) -> None:
    name = publish(served, "2026.12.9")
    box = served.box(running="2026.12.10")
    with pytest.raises(UpdateRefused, match=r"not newer than the running 2026\.12\.10"):
        box.fetch(served.source, name)
    box.runs("2026.12.9")
    with pytest.raises(UpdateRefused, match="not newer"):
        box.fetch(served.source, name)
    assert box.fetch(served.source, name, force=True).version == "2026.12.9"


def test_a_target_the_metadata_does_not_list_is_refused(served: Served) -> None:
    publish(served, "2.0")
    with pytest.raises(UpdateRefused, match="not a target of the repository"):
        served.box().fetch(served.source, "carec-edge-9.9.raucb")
    with pytest.raises(UpdateRefused, match="letters, digits"):
        served.box("box2").fetch(served.source, "../etc/passwd")


def test_an_exported_usb_stick_verifies_and_an_old_one_is_refused_after_a_newer_was_seen(
    served: Served,
) -> None:
    """The stick carries the same metadata: what the box saw over one channel binds the other."""
    first = publish(served, "2.0")
    old_stick = usb(served.repository, served.root / "stick-old")
    second = publish(served, "3.0")
    box = served.box()
    assert box.fetch(old_stick, first).version == "2.0"
    assert box.fetch(served.source, second).version == "3.0"
    with pytest.raises(UpdateRefused, match="rollback"):
        box.fetch(old_stick, first, force=True)
    new_stick = usb(served.repository, served.root / "stick-new", [second])
    on_stick = (served.root / "stick-new" / "targets").iterdir()
    assert [p.name.split(".", 1)[1] for p in on_stick] == [second]
    assert box.fetch(new_stick, second, force=True).version == "3.0"


def test_a_stick_for_boxes_offline_a_while_is_signed_to_last_that_long(tmp_path: Path) -> None:
    """Sticks written five days ago: one with the usual one-day timestamp is refused as
    frozen, one exported with --valid-days 10 still verifies."""
    five_days_ago = system_utcnow() - dt.timedelta(days=5)
    repository = TufRepository.init(tmp_path / "repository", tmp_path / "keys",
                                    clock=lambda: five_days_ago)  # fmt: skip
    name = repository.publish(bundle(tmp_path / "built", "2.0"), version="2.0").name
    plain = usb(repository, tmp_path / "plain")
    with pytest.raises(UpdateRefused, match="expired metadata"):
        Box.make(tmp_path / "box-1", repository).fetch(plain, name)
    repository.refresh(valid_for=dt.timedelta(days=10))
    long_lived = usb(repository, tmp_path / "long")
    assert Box.make(tmp_path / "box-2", repository).fetch(long_lived, name).version == "2.0"


def test_a_stick_whose_files_lead_out_of_it_or_never_end_is_refused(tmp_path: Path) -> None:
    repository = TufRepository.init(tmp_path / "repository", tmp_path / "keys")
    name = repository.publish(bundle(tmp_path / "built", "2.0"), version="2.0").name
    stick = usb(repository, tmp_path / "stick")
    box = Box.make(tmp_path / "box", repository)
    target = next((stick.path / "targets").iterdir())
    outside = tmp_path / "outside"
    target.rename(outside)
    target.symlink_to(outside)
    with pytest.raises(UpdateRefused, match="outside"):
        box.fetch(stick, name)
    target.unlink()
    os.mkfifo(target)
    with pytest.raises(UpdateRefused, match="not a regular file"):
        box.fetch(stick, name)


def test_the_update_listener_takes_only_boxes_of_the_fleet_ca(
    centre_updates: CentreUpdates, tmp_path: Path
) -> None:
    repository = TufRepository(centre_updates.repository_dir, centre_updates.keys_dir)
    stranger_fleet = make_fleet(tmp_path / "other", [BOX_NODE])
    good = centre_updates.source()
    identity = stranger_fleet.nodes[BOX_NODE]
    stranger = HttpsSource(good.url, good.ca_file, identity / "node.crt", identity / "node.key")
    box = Box.make(tmp_path / "box", repository)
    with pytest.raises(UpdateRefused, match="could not be read"):
        box.fetch(stranger, "carec-edge-2.0.raucb")


def resign_snapshot(repository: TufRepository, change: Callable[[Snapshot], None]) -> None:
    """Sign a new snapshot with the repository's own key after `change`, and a timestamp
    naming it: what an attacker holding the online keys could do."""
    snapshot = repository._load("snapshot", Snapshot)
    change(snapshot.signed)
    repository._bump(snapshot, "snapshot", None)
    repository._write(snapshot)
    timestamp = repository._load("timestamp", Timestamp)
    timestamp.signed.snapshot_meta.version = snapshot.signed.version
    repository._bump(timestamp, "timestamp", None)
    repository._write(timestamp)


def test_update_fetch_on_the_command_line_takes_a_stick_and_says_why_it_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = TufRepository.init(tmp_path / "repository", tmp_path / "keys")
    built = bundle(tmp_path / "built", "2.0")
    repository.publish(built, version="2.0")
    stick = tmp_path / "stick"
    repository.export(stick)
    data_dir = tmp_path / "data"  # the box's store, its trusted root already there
    (data_dir / "tuf" / "metadata").mkdir(parents=True)
    shutil.copyfile(repository.metadata_dir / "root.json", data_dir / "tuf/metadata/root.json")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="action", required=True))
    context = CliContext(config_path=None, data_dir_option=data_dir)
    fetch = ["fetch", built.name, "--from", str(stick), "--to", str(tmp_path / "got"), "--force"]
    args = parser.parse_args(fetch)
    assert args.handler(args, context) == 0
    assert "version 2.0, 65536 bytes" in capsys.readouterr().out
    assert (tmp_path / "got" / built.name).read_bytes() == built.read_bytes()
    target = next((stick / "targets").iterdir())
    target.write_bytes(b"x" * 65536)
    args = parser.parse_args(fetch)
    assert args.handler(args, context) == 3
    assert "refused: carec-edge-2.0.raucb: its sha256 is not the signed one" in (
        capsys.readouterr().err
    )
