"""The centre's TUF repository: what init, publish, refresh and rotate-root sign, with which
keys and expiries; the key files' modes; the CLI (`carec-edge centre updates ...`); the
service's periodic refresh; and the update endpoints' refusal of names outside the layout."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tuf.api._payload import Root, Snapshot, Targets, Timestamp
from tuf.api.metadata import Metadata

from centre.config import load_centre_config
from centre.service import CentreService
from centre.updates.api import updates_app
from centre.updates.tuf_keys import RoleKeyError
from centre.updates.tuf_repository import Expiry, RepositoryError, TufRepository
from edge.cli import main
from edge.config import ConfigError
from edge.timeutil import system_utcnow
from provisioning.identity.fleet import make_fleet


def signed(path: Path) -> Root | Targets | Snapshot | Timestamp:
    return Metadata.from_bytes(path.read_bytes()).signed


def make(tmp_path: Path, **options: object) -> TufRepository:
    return TufRepository.init(tmp_path / "repository", tmp_path / "keys", **options)  # type: ignore[arg-type]


def bundle_file(tmp_path: Path, name: str = "carec-edge-2.0.raucb", size: int = 10_000) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def test_init_signs_version_one_of_each_role_with_the_expiry_policy(tmp_path: Path) -> None:
    before = system_utcnow()
    repository = make(tmp_path, expiry=Expiry(timestamp_days=0.5), root_keys=3, root_threshold=2)
    names = sorted(p.name for p in repository.metadata_dir.iterdir())
    assert names == ["1.root.json", "1.snapshot.json", "1.targets.json", "root.json",
                     "timestamp.json"]  # fmt: skip
    root = signed(repository.metadata_dir / "1.root.json")
    assert isinstance(root, Root)
    assert root.consistent_snapshot
    assert (len(root.roles["root"].keyids), root.roles["root"].threshold) == (3, 2)
    lives = {s.role: s.expires - before for s in repository.status()}
    assert dt.timedelta(days=364) < lives["root"] <= dt.timedelta(days=365, seconds=5)
    assert dt.timedelta(days=89) < lives["targets"] <= dt.timedelta(days=90, seconds=5)
    assert dt.timedelta(days=13) < lives["snapshot"] <= dt.timedelta(days=14, seconds=5)
    assert dt.timedelta(hours=11) < lives["timestamp"] <= dt.timedelta(hours=12, seconds=5)
    keys = sorted(repository.keys_dir.iterdir())
    assert len(keys) == 6
    assert {oct(k.stat().st_mode & 0o777) for k in keys} == {"0o600"}
    assert oct(repository.keys_dir.stat().st_mode & 0o777) == "0o700"
    with pytest.raises(RepositoryError, match="already holds a repository"):
        make(tmp_path)


def test_publish_signs_the_bundles_length_hash_and_version_in_new_metadata(tmp_path: Path) -> None:
    repository = make(tmp_path)
    bundle = bundle_file(tmp_path)
    published = repository.publish(bundle, version="2.0")
    assert published.sha256 == hashlib.sha256(bundle.read_bytes()).hexdigest()
    targets = signed(repository.metadata_dir / "2.targets.json")
    assert isinstance(targets, Targets)
    entry = targets.targets["carec-edge-2.0.raucb"]
    assert (entry.length, entry.hashes) == (10_000, {"sha256": published.sha256})
    assert entry.unrecognized_fields["custom"] == {"version": "2.0",
                                                   "compatible": "carec-edge-x86_64"}  # fmt: skip
    snapshot = signed(repository.metadata_dir / "2.snapshot.json")
    assert isinstance(snapshot, Snapshot)
    assert snapshot.meta["targets.json"].version == 2
    timestamp = signed(repository.metadata_dir / "timestamp.json")
    assert isinstance(timestamp, Timestamp)
    assert (timestamp.version, timestamp.snapshot_meta.version) == (2, 2)
    stored = repository.targets_dir / f"{published.sha256}.carec-edge-2.0.raucb"
    assert stored.read_bytes() == bundle.read_bytes()
    assert repository.publish(bundle, version="2.0").sha256 == published.sha256  # again: same
    bundle.write_bytes(b"other bytes")
    with pytest.raises(RepositoryError, match="published with other bytes"):
        repository.publish(bundle, version="2.0")
    for version, name in (("2.0; rm", None), ("2.0", "../x.raucb")):
        with pytest.raises(RepositoryError, match="letters, digits"):
            repository.publish(bundle, version=version, name=name)


def test_refresh_resigns_the_timestamp_and_what_nears_its_end(tmp_path: Path) -> None:
    repository = make(tmp_path)
    assert repository.refresh() == ["timestamp"]
    assert repository.refresh(timestamp_always=False) == []  # nothing due: nothing signed
    later = system_utcnow() + dt.timedelta(days=8)  # the snapshot has 6 of its 14 days left
    in_a_week = TufRepository(repository.directory, repository.keys_dir, clock=lambda: later)
    assert in_a_week.refresh(timestamp_always=False) == ["snapshot", "timestamp"]
    # An export for boxes offline 100 days: everything re-signed to last that long.
    assert in_a_week.refresh(valid_for=dt.timedelta(days=100)) == [
        "targets", "snapshot", "timestamp",
    ]  # fmt: skip
    ends = {s.role: s.expires for s in in_a_week.status()}
    assert ends["timestamp"] >= later + dt.timedelta(days=100) - dt.timedelta(seconds=1)


def test_rotate_root_is_signed_by_the_old_keys_and_the_new_and_retires_the_old(
    tmp_path: Path,
) -> None:
    repository = make(tmp_path)
    old = [p.name for p in repository.keys_dir.glob("root-*.key")]
    assert repository.rotate_root(new_keys=2, threshold=2) == 2
    v1 = signed(repository.metadata_dir / "1.root.json")
    v2 = Metadata[Root].from_bytes((repository.metadata_dir / "2.root.json").read_bytes())
    assert isinstance(v1, Root)
    v1.verify_delegate("root", v2.signed_bytes, v2.signatures)  # the old root vouches
    v2.signed.verify_delegate("root", v2.signed_bytes, v2.signatures)  # and the new
    assert sorted(p.name for p in (repository.keys_dir / "retired").iterdir()) == sorted(old)
    assert (repository.metadata_dir / "root.json").read_bytes() == (
        repository.metadata_dir / "2.root.json"
    ).read_bytes()


def test_publishing_while_the_service_refreshes_signs_each_version_once(tmp_path: Path) -> None:
    """The CLI's publish and the service's refresh, at once, in two threads (the lock file):
    every bundle listed, versions consecutive, no version written twice."""
    repository = make(tmp_path)
    other = TufRepository(repository.directory, repository.keys_dir)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def publishing() -> None:
        start.wait()
        for n in range(5):
            repository.publish(bundle_file(tmp_path, f"b-{n}.raucb", 1000), version=f"2.{n}")

    def refreshing() -> None:
        start.wait()
        for _ in range(20):
            other.refresh()

    def kept(job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except BaseException as error:  # the test fails with it below
                errors.append(error)

        return run

    threads = [threading.Thread(target=kept(t)) for t in (publishing, refreshing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert [t.name for t in repository.targets()] == [f"b-{n}.raucb" for n in range(5)]
    versions = {s.role: s.version for s in repository.status()}
    assert versions["targets"] == 6
    assert versions["timestamp"] == 1 + 5 + 20
    snapshots = sorted(
        int(p.name.split(".")[0]) for p in repository.metadata_dir.glob("*.snapshot.json")
    )
    assert snapshots == list(range(1, 7))


def test_a_timestamp_signed_long_for_a_usb_stick_is_brought_back_by_the_next_refresh(
    tmp_path: Path,
) -> None:
    repository = make(tmp_path)
    repository.export(tmp_path / "stick")
    assert repository.refresh(valid_for=dt.timedelta(days=10)) == ["timestamp"]
    assert repository.refresh(timestamp_always=False) == ["timestamp"]
    ends = {s.role: s.expires for s in repository.status()}
    assert ends["timestamp"] < system_utcnow() + dt.timedelta(days=1, minutes=1)


def test_a_key_file_others_can_read_is_refused_and_a_missing_one_named(tmp_path: Path) -> None:
    repository = make(tmp_path)
    timestamp_key = next(repository.keys_dir.glob("timestamp-*.key"))
    timestamp_key.chmod(0o640)
    with pytest.raises(RoleKeyError, match="readable by others"):
        repository.refresh()
    timestamp_key.unlink()
    with pytest.raises(RoleKeyError, match="no timestamp key"):
        repository.refresh()


def config_file(tmp_path: Path, updates: str) -> Path:
    fleet = make_fleet(tmp_path / "fleet", ["KZ-CIS"])
    path = tmp_path / "centre.toml"
    path.write_text(
        f'[centre]\nid = "KZ-CIS"\ndatabase = "sqlite:///{tmp_path / "c.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes["KZ-CIS"]}"\n'
        f'trust_store = "{fleet.trust_store}"\n[updates]\n'
        f'repository = "{tmp_path / "repo"}"\nkeys_dir = "{tmp_path / "keys"}"\n' + updates,
        encoding="utf-8",
    )
    return path


def test_the_cli_inits_publishes_refreshes_rotates_exports_and_tells_the_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path, "timestamp_days = 2\n")
    run = ["centre", "updates", "--config", str(config)]
    assert main([*run, "init"]) == 0
    bundle = bundle_file(tmp_path)
    assert main([*run, "publish", str(bundle), "--version", "2.0"]) == 0
    assert "published carec-edge-2.0.raucb 2.0 (10000 bytes" in capsys.readouterr().out
    assert main([*run, "refresh"]) == 0
    assert main([*run, "rotate-root"]) == 0
    assert main([*run, "export-usb", str(tmp_path / "stick"), "--valid-days", "10"]) == 0
    capsys.readouterr()
    assert main([*run, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    versions = {r["role"]: r["version"] for r in status["roles"]}
    assert versions == {"root": 2, "targets": 2, "snapshot": 2, "timestamp": 4}
    assert [t["name"] for t in status["targets"]] == ["carec-edge-2.0.raucb"]
    stick = sorted(p.name for p in (tmp_path / "stick" / "metadata").iterdir())
    assert "timestamp.json" in stick
    assert "2.root.json" in stick
    assert main([*run, "publish", str(tmp_path / "none.raucb"), "--version", "3"]) == 1
    assert "no such file" in capsys.readouterr().err
    # A build's repository, with no centre config: what an image build runs.
    build = ["centre", "updates", "--repository", str(tmp_path / "build"), "--keys-dir",
             str(tmp_path / "build-keys")]  # fmt: skip
    assert main([*build, "init"]) == 0
    assert (tmp_path / "build" / "metadata" / "root.json").is_file()
    assert main(["centre", "updates", "--repository", str(tmp_path / "build"), "status"]) == 2
    assert "go together" in capsys.readouterr().err


def test_the_service_refreshes_what_is_due_and_the_config_is_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_file(tmp_path, "refresh_every_s = 60\n")
    service = CentreService.build(load_centre_config(config))
    try:
        repository = TufRepository.init(tmp_path / "repo", tmp_path / "keys")
        assert service.refresh_updates() == []
        timestamp = repository.metadata_dir / "timestamp.json"
        # A timestamp signed 20 hours ago has 4 of its 24 hours left: the service re-signs it.
        earlier = system_utcnow() - dt.timedelta(hours=20)
        TufRepository(repository.directory, repository.keys_dir, clock=lambda: earlier).refresh()
        assert service.refresh_updates() == ["timestamp"]
        assert signed(timestamp).expires > system_utcnow() + dt.timedelta(hours=23)
        assert "updates.root_expiring" not in caplog.messages
        shutil.rmtree(tmp_path / "repo")
        shutil.rmtree(tmp_path / "keys")
        TufRepository.init(tmp_path / "repo", tmp_path / "keys", Expiry(root_days=20))
        service.refresh_updates()
        assert "updates.root_expiring" in caplog.messages
    finally:
        service.close()
    for text, named in (
        ("port = 8445\n", "needs tls_cert, tls_key and client_ca"),
        ("timestamp_days = 0.01\n", "under a quarter of timestamp_days"),
        ("snapshot_days = 100\n", "timestamp_days <= snapshot_days <= targets_days"),
    ):
        with pytest.raises(ConfigError, match=named):
            load_centre_config(config_file(tmp_path / text[:4], text))


def test_the_endpoints_serve_only_the_repositorys_files(tmp_path: Path) -> None:
    repository = make(tmp_path)
    published = repository.publish(bundle_file(tmp_path), version="2.0")
    (tmp_path / "repository" / "secret.txt").write_text("no")
    client = TestClient(updates_app(repository.directory))
    timestamp = client.get("/updates/v1/metadata/timestamp.json")
    assert timestamp.status_code == 200
    assert timestamp.headers["cache-control"] == "no-store"
    assert client.get("/updates/v1/metadata/2.targets.json").status_code == 200
    target = f"/updates/v1/targets/{published.sha256}.{published.name}"
    assert client.get(target).content == (tmp_path / published.name).read_bytes()
    for path in ("/updates/v1/metadata/..%2Fsecret.txt", "/updates/v1/metadata/root.txt",
                 "/updates/v1/metadata/0.root.json", "/updates/v1/targets/carec.raucb",
                 f"/updates/v1/targets/{'0' * 64}.{published.name}",
                 "/updates/v1/metadata/9.targets.json"):  # fmt: skip
        assert client.get(path).status_code == 404, path
