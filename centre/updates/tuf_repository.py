"""The centre's TUF repository (python-tuf's Metadata API): what a box may install, signed so
that a box refuses an old, frozen, mixed or substituted bundle.

    <directory>/metadata/N.root.json, N.targets.json, N.snapshot.json, timestamp.json, root.json
    <directory>/targets/<sha256>.<name>        the bundles, under their content's hash

Consistent snapshots: every metadata version and every bundle is a file of its own that is
never rewritten, so a box that reads while the centre publishes gets one whole, matching set
(timestamp.json is the only file replaced, last and atomically), and the bundle a rollout
names stays downloadable after newer ones are published. Expiry is on the operating system's
clock, the one boxes check it against. Every change holds a lock file, so the CLI's publish and
the service's periodic refresh never sign the same version twice.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

# From the defining modules: the public ones re-export without __all__ (mypy --strict).
from securesystemslib.signer._crypto_signer import CryptoSigner
from securesystemslib.signer._key import SSlibKey
from tuf.api._payload import MetaFile, Root, Signed, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.metadata import Metadata
from tuf.api.serialization.json import JSONSerializer

from centre.config import UpdatesSection
from centre.updates.tuf_keys import RoleKeyError, load_signer, new_signer, retire
from edge.timeutil import system_utcnow
from provisioning.identity.files import write_atomically
from provisioning.update.tuf_names import COMPATIBLE, TARGET_NAME, VERSION

CHUNK = 1 << 20
_SERIALIZER = JSONSerializer(compact=False)
_S = TypeVar("_S", Root, Targets, Snapshot, Timestamp)


class RepositoryError(Exception):
    """The repository cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Expiry:
    """How long each role's metadata is valid once signed (days)."""

    root_days: float = 365
    targets_days: float = 90
    snapshot_days: float = 14
    timestamp_days: float = 1

    def of(self, role: str) -> dt.timedelta:
        return dt.timedelta(days=float(getattr(self, f"{role}_days")))


@dataclass(frozen=True)
class RoleStatus:
    role: str
    version: int
    expires: dt.datetime
    signers_here: int  # keys of the role whose private key is in the key directory
    threshold: int


@dataclass(frozen=True)
class PublishedTarget:
    name: str
    version: str
    compatible: str
    length: int
    sha256: str


class TufRepository:
    def __init__(
        self, directory: Path, keys_dir: Path, expiry: Expiry = Expiry(),
        *, clock: Callable[[], dt.datetime] = system_utcnow,
    ) -> None:  # fmt: skip
        self.directory = directory
        self.keys_dir = keys_dir
        self.expiry = expiry
        self.clock = clock
        self.metadata_dir = directory / "metadata"
        self.targets_dir = directory / "targets"

    # -- creating --------------------------------------------------------------------------

    @classmethod
    def init(
        cls, directory: Path, keys_dir: Path, expiry: Expiry = Expiry(), *, root_keys: int = 1,
        root_threshold: int = 1, clock: Callable[[], dt.datetime] = system_utcnow,
    ) -> TufRepository:  # fmt: skip
        """A new repository: fresh keys for every role, version 1 of each, no targets."""
        if not 1 <= root_threshold <= root_keys <= 16:
            raise RepositoryError("need 1 <= root threshold <= root keys <= 16")
        repo = cls(directory, keys_dir, expiry, clock=clock)
        if (repo.metadata_dir / "1.root.json").exists():
            raise RepositoryError(f"{directory} already holds a repository")
        repo.metadata_dir.mkdir(parents=True, exist_ok=True)
        repo.targets_dir.mkdir(parents=True, exist_ok=True)
        with repo._locked():
            now = repo.clock()
            root = Root(expires=now + expiry.of("root"), consistent_snapshot=True)
            root_signers = [new_signer(keys_dir, "root") for _ in range(root_keys)]
            for signer in root_signers:
                root.add_key(signer.public_key, "root")
            root.roles["root"].threshold = root_threshold
            for role in ("targets", "snapshot", "timestamp"):
                root.add_key(new_signer(keys_dir, role).public_key, role)
            repo._write(Metadata(root), root_signers, versioned=True)
            repo._write(Metadata(Targets(expires=now + expiry.of("targets"))))
            snapshot = Snapshot(expires=now + expiry.of("snapshot"))
            repo._write(Metadata(snapshot))
            repo._write(Metadata(Timestamp(expires=now + expiry.of("timestamp"))))
        return repo

    # -- publishing --------------------------------------------------------------------------

    def publish(
        self, bundle: Path, *, version: str, name: str | None = None,
        compatible: str = COMPATIBLE,
    ) -> PublishedTarget:  # fmt: skip
        """Add `bundle` as target `name` (default: its file name) with its version and
        compatible, and sign new targets, snapshot and timestamp."""
        name = name or bundle.name
        if not TARGET_NAME.match(name):
            raise RepositoryError(f"target name {name!r}: letters, digits and ._+- only")
        if not VERSION.match(version):
            raise RepositoryError(f"version {version!r}: letters, digits and .+~- only")
        if not bundle.is_file():
            raise RepositoryError(f"{bundle}: no such file")
        with self._locked():
            targets = self._load("targets", Targets)
            sha256, length = self._store_target(bundle, name)
            known = targets.signed.targets.get(name)
            if known is not None and known.hashes.get("sha256") != sha256:
                raise RepositoryError(
                    f"target {name} is published with other bytes; publish under a new name"
                )
            custom = {"version": version, "compatible": compatible}
            targets.signed.targets[name] = TargetFile(
                length, {"sha256": sha256}, name, unrecognized_fields={"custom": custom}
            )
            self._resign_targets(targets)
        return PublishedTarget(name, version, compatible, length, sha256)

    def refresh(
        self, *, valid_for: dt.timedelta | None = None, timestamp_always: bool = True
    ) -> list[str]:
        """Re-sign what nears its end: a role is due when less than half its validity remains
        (or less than `valid_for`: an export for boxes that stay offline that long). The
        timestamp is re-signed every time unless not `timestamp_always` (the service's periodic
        check); a box that sees no timestamp younger than its validity knows it is held back.
        The roles re-signed, in order."""
        with self._locked():
            now = self.clock()
            targets = self._load("targets", Targets)
            if self._due(targets.signed, "targets", now, valid_for):
                self._resign_targets(targets, valid_for=valid_for)
                return ["targets", "snapshot", "timestamp"]
            done = []
            snapshot = self._load("snapshot", Snapshot)
            if self._due(snapshot.signed, "snapshot", now, valid_for):
                self._bump(snapshot, "snapshot", valid_for)
                self._write(snapshot)
                done.append("snapshot")
            timestamp = self._load("timestamp", Timestamp).signed
            # One signed longer than the policy (for a USB stick) is brought back online.
            overlong = valid_for is None and timestamp.expires - now > self.expiry.of(
                "timestamp"
            ) + dt.timedelta(minutes=1)
            due = self._due(timestamp, "timestamp", now, valid_for)
            if done or timestamp_always or overlong or due:
                self._sign_timestamp(snapshot.signed.version, valid_for)
                done.append("timestamp")
            return done

    def rotate_root(
        self, *, new_keys: int = 1, threshold: int = 1, online: Sequence[str] = ()
    ) -> int:
        """A new root version, signed by the old root's keys (a box that trusts the old root
        accepts it) and by the new ones: `new_keys` new root keys (0: keep them), and a new key
        for each `online` role (targets, snapshot, timestamp: after a leak), whose metadata is
        then signed again with it. Keys replaced are retired; the new root's version."""
        if new_keys and not 1 <= threshold <= new_keys <= 16:
            raise RepositoryError("need 1 <= root threshold <= root keys <= 16")
        if unknown := set(online) - {"targets", "snapshot", "timestamp"}:
            raise RepositoryError(f"not an online role: {', '.join(sorted(unknown))}")
        with self._locked():
            root = self._load("root", Root)
            old_signers = self._signers(root.signed, "root")
            if len(old_signers) < root.signed.roles["root"].threshold:
                raise RepositoryError(
                    f"the current root's threshold is {root.signed.roles['root'].threshold} "
                    f"and only {len(old_signers)} of its keys are in {self.keys_dir}"
                )
            replaced = [(role, list(root.signed.roles[role].keyids))
                        for role in ("root", *online) if role != "root" or new_keys]  # fmt: skip
            for role, keyids in replaced:
                for keyid in keyids:
                    root.signed.revoke_key(keyid, role)
            new_signers = [new_signer(self.keys_dir, "root") for _ in range(new_keys)]
            for signer in new_signers:
                root.signed.add_key(signer.public_key, "root")
            if new_keys:
                root.signed.roles["root"].threshold = threshold
            for role in online:
                root.signed.add_key(new_signer(self.keys_dir, role).public_key, role)
            self._bump(root, "root", None)
            self._write(root, [*old_signers, *new_signers], versioned=True)
            if online:  # signed again by the new keys (every one: snapshot names targets' version)
                self._resign_targets(self._load("targets", Targets))
            for role, keyids in replaced:
                for keyid in keyids:
                    retire(self.keys_dir, role, keyid)
            return root.signed.version

    # -- reading -----------------------------------------------------------------------------

    def status(self) -> list[RoleStatus]:
        root = self._load("root", Root).signed
        signed: list[Signed] = [root, self._load("targets", Targets).signed,
                                self._load("snapshot", Snapshot).signed,
                                self._load("timestamp", Timestamp).signed]  # fmt: skip
        out = []
        for s in signed:
            here = len(self._signers(root, s.type))
            out.append(RoleStatus(s.type, s.version, s.expires, here, root.roles[s.type].threshold))
        return out

    def targets(self) -> list[PublishedTarget]:
        found = []
        for name, target in sorted(self._load("targets", Targets).signed.targets.items()):
            custom = target.unrecognized_fields.get("custom", {})
            found.append(PublishedTarget(name, str(custom.get("version", "")),
                                         str(custom.get("compatible", "")), target.length,
                                         target.hashes.get("sha256", "")))  # fmt: skip
        return found

    def target_path(self, name: str) -> Path:
        target = self._load("targets", Targets).signed.targets.get(name)
        if target is None:
            raise RepositoryError(f"no target {name}; `centre updates status` lists them")
        return self.targets_dir / f"{target.hashes['sha256']}.{name}"

    def export(self, destination: Path, names: list[str] | None = None) -> list[str]:
        """The USB stick's layout: every metadata file and the named bundles (default: all)."""
        with self._locked():
            wanted = names or [t.name for t in self.targets()]
            sources = [self.target_path(name) for name in wanted]
            (destination / "metadata").mkdir(parents=True, exist_ok=True)
            (destination / "targets").mkdir(parents=True, exist_ok=True)
            for path in sorted(self.metadata_dir.glob("*.json")):
                shutil.copyfile(path, destination / "metadata" / path.name)
            for path in sources:
                shutil.copyfile(path, destination / "targets" / path.name)
        return wanted

    # -- inside ------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _latest(self, role: str) -> Path:
        if role == "timestamp":
            return self.metadata_dir / "timestamp.json"
        versions = [int(p.name.split(".", 1)[0]) for p in self.metadata_dir.glob(f"*.{role}.json")
                    if p.name.split(".", 1)[0].isdigit()]  # fmt: skip
        if not versions:
            raise RepositoryError(
                f"{self.directory}: no {role} metadata; run `centre updates init`"
            )
        return self.metadata_dir / f"{max(versions)}.{role}.json"

    def _load(self, role: str, kind: type[_S]) -> Metadata[_S]:
        path = self._latest(role)
        try:
            metadata = Metadata.from_bytes(path.read_bytes())
        except FileNotFoundError:
            raise RepositoryError(f"{path}: missing; run `centre updates init`") from None
        if not isinstance(metadata.signed, kind):
            raise RepositoryError(f"{path}: not {role} metadata")
        return metadata

    def _signers(self, root: Root, role: str) -> list[CryptoSigner]:
        signers = []
        for keyid in root.roles[role].keyids:
            key = root.keys[keyid]
            assert isinstance(key, SSlibKey)
            signer = load_signer(self.keys_dir, role, key)
            if signer is not None:
                signers.append(signer)
        return signers

    def _due(self, signed: Signed, role: str, now: dt.datetime,
             valid_for: dt.timedelta | None) -> bool:  # fmt: skip
        needed = self.expiry.of(role) / 2
        if valid_for is not None:
            needed = max(needed, valid_for)
        return signed.expires - now < needed

    def _bump(self, metadata: Metadata[Any], role: str, valid_for: dt.timedelta | None) -> None:
        period = self.expiry.of(role)
        if valid_for is not None:
            period = max(period, valid_for)
        metadata.signed.version += 1
        metadata.signed.expires = self.clock() + period

    def _resign_targets(self, targets: Metadata[Targets],
                        valid_for: dt.timedelta | None = None) -> None:  # fmt: skip
        self._bump(targets, "targets", valid_for)
        self._write(targets)
        snapshot = self._load("snapshot", Snapshot)
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        self._bump(snapshot, "snapshot", valid_for)
        self._write(snapshot)
        self._sign_timestamp(snapshot.signed.version, valid_for)

    def _sign_timestamp(self, snapshot_version: int, valid_for: dt.timedelta | None) -> None:
        timestamp = self._load("timestamp", Timestamp)
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot_version)
        self._bump(timestamp, "timestamp", valid_for)
        self._write(timestamp)

    def _write(self, metadata: Metadata[Any], signers: list[CryptoSigner] | None = None,
               *, versioned: bool = True) -> None:  # fmt: skip
        role = metadata.signed.type
        if signers is None:
            signers = self._signers(self._load("root", Root).signed, role)
            if not signers:
                raise RoleKeyError(f"no {role} key in {self.keys_dir}: it cannot be signed here")
        metadata.signatures.clear()
        for signer in signers:
            metadata.sign(signer, append=True)
        data = metadata.to_bytes(_SERIALIZER)
        if role == "timestamp":
            write_atomically(self.metadata_dir / "timestamp.json", data, mode=0o644,
                             overwrite=True)  # fmt: skip
            return
        name = f"{metadata.signed.version}.{role}.json"
        write_atomically(self.metadata_dir / name, data, mode=0o644)
        if role == "root":  # the newest root, for an image to carry as its trust anchor
            write_atomically(self.metadata_dir / "root.json", data, mode=0o644, overwrite=True)

    def _store_target(self, bundle: Path, name: str) -> tuple[str, int]:
        """Copy the bundle into targets/ as `<sha256>.<name>`, hashing it on the way."""
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        length = 0
        descriptor, temporary = tempfile.mkstemp(dir=self.targets_dir, prefix=".incoming.")
        try:
            with open(bundle, "rb") as source, os.fdopen(descriptor, "wb") as copy:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    copy.write(chunk)
                    length += len(chunk)
                copy.flush()
                os.fsync(copy.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.targets_dir / f"{digest.hexdigest()}.{name}")
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest.hexdigest(), length


def repository_of(updates: UpdatesSection) -> TufRepository:
    """The repository of the centre's [updates] config."""
    expiry = Expiry(updates.root_days, updates.targets_days, updates.snapshot_days,
                    updates.timestamp_days)  # fmt: skip
    return TufRepository(updates.repository, updates.keys_dir, expiry)
