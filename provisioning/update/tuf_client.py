"""The box's side of TUF (python-tuf's ngclient): fetch a bundle only when the centre's
repository vouches for it now.

The box trusts the root.json its image carries (`IMAGE_ROOT`, copied on first use into
`<store>/tuf/metadata/`) and from then on the newest metadata it has seen, whichever source it
came from: a USB stick cannot roll back what the network showed, nor the other way round.
Refused, each with its reason: expired metadata (a frozen repository), an older version than one
seen (rollback), a signature not of the root's keys, a targets file that does not match the
snapshot (mix and match), bundle bytes not of the signed hash (substitution), a bundle for
another image (compatible), or not newer than the running image (downgrade, unless forced).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tuf.api import exceptions as tuf_errors
from tuf.api._payload import TargetFile
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from edge.logs import log_event
from provisioning.update.os_release import image_version_in
from provisioning.update.tuf_fetchers import DirectoryFetcher, HttpsFetcher
from provisioning.update.tuf_names import COMPATIBLE, TARGET_NAME, VERSION, is_newer

log = logging.getLogger(__name__)

IMAGE_ROOT = Path("/usr/share/carec-edge/tuf/root.json")  # installed by the image build
STORE_METADATA = Path("/var/lib/carec-edge/tuf/metadata")
OS_RELEASE = Path("/usr/lib/os-release")
MAX_BUNDLE_BYTES = 8 << 30
# Metadata bounds: a root of a few keys, a timestamp, a snapshot of one role, and targets
# that list every bundle ever published (a few hundred bytes each).
CONFIG = UpdaterConfig(
    max_root_rotations=64, root_max_length=64 << 10, timestamp_max_length=16 << 10,
    snapshot_max_length=64 << 10, targets_max_length=4 << 20,
)  # fmt: skip


@dataclass(frozen=True)
class HttpsSource:
    url: str  # the repository's base, e.g. https://centre.kz.example:8445/updates/v1
    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class DirectorySource:
    path: Path  # holds metadata/ and targets/, as `centre updates export-usb` lays them out


UpdateSource = HttpsSource | DirectorySource


@dataclass(frozen=True)
class VerifiedTarget:
    path: Path
    version: str
    sha256: str
    length: int


@dataclass(frozen=True)
class BoxTrust:
    """Where the box keeps what it trusts and what it runs (paths injectable for tests)."""

    metadata_dir: Path = STORE_METADATA
    image_root: Path = IMAGE_ROOT
    os_release: Path = OS_RELEASE
    compatible: str = COMPATIBLE

    @classmethod
    def under(cls, data_dir: Path) -> BoxTrust:
        """The box's trust with its metadata in its store (`<data_dir>/tuf/metadata`)."""
        return cls(metadata_dir=data_dir / "tuf" / "metadata")


def centre_source(url: str, identity_dir: Path, ca_file: Path | None = None) -> HttpsSource:
    """The centre's update listener, the box showing its identity's certificate; the listener's
    CA is `ca_file` or the identity's CA bundle (what enrolment wrote)."""
    ca = ca_file or identity_dir / "ca-bundle.pem"
    return HttpsSource(url, ca, identity_dir / "node.crt", identity_dir / "node.key")


class UpdateRefused(Exception):  # noqa: N818 (the name the contract between helpers uses)
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fetch_target(
    source: UpdateSource, target: str, work_dir: Path, *, trust: BoxTrust = BoxTrust(),
    force: bool = False,
) -> VerifiedTarget:  # fmt: skip
    """The bundle `target`, verified, in `work_dir`; UpdateRefused(reason) otherwise.
    `force` allows a version that is not newer than the running one (never another image's)."""
    try:
        return _fetch(source, target, work_dir, trust, force)
    except UpdateRefused as refused:
        log_event(log, logging.WARNING, "update.refused", target=target[:200],
                  reason=refused.reason[:500])  # fmt: skip
        raise


def _fetch(
    source: UpdateSource, target: str, work_dir: Path, trust: BoxTrust, force: bool
) -> VerifiedTarget:
    if not TARGET_NAME.match(target):
        raise UpdateRefused(f"target name {target!r}: letters, digits and ._+- only")
    _install_image_root(trust)
    fetcher, base = _fetcher_for(source)
    updater = Updater(
        str(trust.metadata_dir), f"{base}/metadata/", str(work_dir), f"{base}/targets/",
        fetcher, CONFIG, bootstrap=None,
    )  # fmt: skip
    try:
        updater.refresh()
        info = updater.get_targetinfo(target)
        if info is None:
            raise UpdateRefused(f"{target}: not a target of the repository's signed metadata")
        version = _check_target(info, trust, force)
        work_dir.mkdir(parents=True, exist_ok=True)
        sha256 = info.hashes["sha256"]
        path = _download(fetcher, f"{base}/targets/{sha256}.{target}", info, work_dir / target)
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as error:
        raise UpdateRefused(_reason(error)) from None
    finally:
        if isinstance(fetcher, HttpsFetcher):
            fetcher.close()
    log_event(log, logging.INFO, "update.verified", target=target, version=version,
              length=info.length)  # fmt: skip
    return VerifiedTarget(path, version, sha256, info.length)


def running_version(os_release: Path) -> str:
    """IMAGE_VERSION of the running image's os-release."""
    try:
        text = os_release.read_text(encoding="utf-8")
    except OSError as error:
        reason = f"{os_release}: {error.strerror}; the running version is unknown"
        raise UpdateRefused(reason) from None
    version = image_version_in(text)
    if version is not None:
        return version
    raise UpdateRefused(f"{os_release}: no IMAGE_VERSION; the running version is unknown")


def _install_image_root(trust: BoxTrust) -> None:
    trusted = trust.metadata_dir / "root.json"
    if trusted.exists():
        return
    if not trust.image_root.is_file():
        raise UpdateRefused(f"{trust.image_root}: missing; the image carries no update root")
    trust.metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(trust.image_root, trusted)


def _fetcher_for(source: UpdateSource) -> tuple[FetcherInterface, str]:
    if isinstance(source, HttpsSource):
        fetcher = HttpsFetcher(source.ca_file, source.cert_file, source.key_file)
        return fetcher, source.url.rstrip("/")
    if not (source.path / "metadata" / "timestamp.json").is_file():
        raise UpdateRefused(f"{source.path}: no metadata/timestamp.json (not an update stick)")
    return DirectoryFetcher(source.path), source.path.resolve().as_uri()


def _check_target(info: TargetFile, trust: BoxTrust, force: bool) -> str:
    custom = info.unrecognized_fields.get("custom")
    if not isinstance(custom, dict):
        raise UpdateRefused(f"{info.path}: no custom version and compatible in its metadata")
    version, compatible = custom.get("version"), custom.get("compatible")
    if compatible != trust.compatible:
        raise UpdateRefused(
            f"{info.path}: made for {compatible!r}, this box runs {trust.compatible!r}"
        )
    if not isinstance(version, str) or not VERSION.match(version):
        raise UpdateRefused(f"{info.path}: version {version!r} is not a version")
    if "sha256" not in info.hashes:
        raise UpdateRefused(f"{info.path}: its metadata carries no sha256")
    if info.length > MAX_BUNDLE_BYTES:
        raise UpdateRefused(f"{info.path}: {info.length} bytes, over {MAX_BUNDLE_BYTES}")
    if force:
        return version
    running = running_version(trust.os_release)
    if not is_newer(version, running):
        raise UpdateRefused(
            f"{info.path}: version {version} is not newer than the running {running} "
            "(a downgrade; --force to install it anyway)"
        )
    return version


def _download(fetcher: FetcherInterface, url: str, info: TargetFile, path: Path) -> Path:
    """Stream the bundle to `path`, hashing as it comes; refuse it past its signed length or
    when a hash differs (the partial file is removed)."""
    digests = {name: hashlib.new(name) for name in info.hashes}
    partial = path.with_name(f".{path.name}.partial")
    received = 0
    try:
        with open(partial, "wb") as file:
            for chunk in fetcher.fetch(url):
                received += len(chunk)
                if received > info.length:
                    raise UpdateRefused(
                        f"{info.path}: more than its signed {info.length} bytes (substituted)"
                    )
                for digest in digests.values():
                    digest.update(chunk)
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        if received != info.length:
            raise UpdateRefused(f"{info.path}: {received} bytes, signed {info.length} (cut short)")
        for name, digest in digests.items():
            if digest.hexdigest() != info.hashes[name]:
                raise UpdateRefused(f"{info.path}: its {name} is not the signed one (substituted)")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def _reason(error: Exception) -> str:
    kinds = [
        (tuf_errors.ExpiredMetadataError, "expired metadata (the repository is stale or frozen)"),
        (tuf_errors.EqualVersionNumberError, "metadata changed without a new version"),
        (tuf_errors.BadVersionNumberError, "metadata older than what this box has seen "
                                            "(rollback) or not the snapshot's (mix and match)"),
        (tuf_errors.UnsignedMetadataError, "metadata not signed by the trusted root's keys"),
        (tuf_errors.LengthOrHashMismatchError, "metadata not the one its parent signed"),
        (tuf_errors.DownloadHTTPError, "the repository did not serve a file"),
        (tuf_errors.DownloadLengthMismatchError, "a metadata file over its size bound"),
        (tuf_errors.DownloadError, "the repository could not be read"),
        (tuf_errors.RepositoryError, "the repository's metadata does not hold"),
    ]  # fmt: skip
    for kind, text in kinds:
        if isinstance(error, kind):
            return f"{text}: {error}"[:500]
    return str(error)[:500]
