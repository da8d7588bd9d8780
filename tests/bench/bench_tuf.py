"""Update metadata (TUF) with a bundle of the image's size: how long the centre takes to publish
it (one pass that copies and hashes it, then targets, snapshot and timestamp signed) and a box
to fetch and verify it (ngclient's metadata walk, then the bundle streamed, hashed and checked
against its signed length and SHA-256), from a directory (a USB stick) and over HTTPS from the
real centre service (mutual TLS with the box's certificate, on loopback).

    .venv/bin/python -m tests.bench.bench_tuf [--mib 300]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from centre.config import load_centre_config
from centre.service import CentreService
from centre.updates.tuf_repository import TufRepository
from provisioning.identity.fleet import make_fleet
from provisioning.update.tuf_client import (
    BoxTrust,
    DirectorySource,
    HttpsSource,
    UpdateSource,
    fetch_target,
)

BOX = "KZ-NURZHOLY-1"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_tuf")
    parser.add_argument("--mib", type=int, default=300, help="bundle size (default 300 MiB)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-tuf-") as temporary:
        root = Path(temporary)
        bundle = root / "carec-edge-2.0.raucb"
        with open(bundle, "wb") as file:
            for _ in range(args.mib):
                file.write(os.urandom(1 << 20))
        fleet = make_fleet(root / "fleet", ["KZ-CIS", BOX])
        repository = TufRepository.init(root / "repository", root / "keys")
        baseline_s = _copy_and_hash(bundle, root / "baseline-copy")
        started = time.perf_counter()
        repository.publish(bundle, version="2.0")
        publish_s = time.perf_counter() - started
        service = _centre(root, fleet.ca_bundle, fleet.broker_cert, fleet.broker_key)
        try:
            identity = fleet.nodes[BOX]
            https = HttpsSource(
                f"https://127.0.0.1:{service.updates_port}/updates/v1", fleet.ca_bundle,
                identity / "node.crt", identity / "node.key",
            )  # fmt: skip
            usb_s = _fetch(root / "usb-box", repository, DirectorySource(repository.directory))
            https_s = _fetch(root / "https-box", repository, https)
        finally:
            service.close()
    print(json.dumps({
        "bench": "tuf", "bundle_mib": args.mib, "publish_s": round(publish_s, 2),
        "fetch_verify_directory_s": round(usb_s, 2), "fetch_verify_https_s": round(https_s, 2),
        "baseline": "copy the bundle and SHA-256 it in the same pass (hashlib), same run",
        "baseline_s": round(baseline_s, 2),
        "publish_ratio": round(publish_s / baseline_s, 2),
        "fetch_verify_directory_ratio": round(usb_s / baseline_s, 2),
        "fetch_verify_https_ratio": round(https_s / baseline_s, 2),
    }))  # fmt: skip
    return 0


def _copy_and_hash(source: Path, copy: Path) -> float:
    """The floor of both publish and fetch: every byte read, hashed and written once."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(source, "rb") as reader, open(copy, "wb") as writer:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
            writer.write(chunk)
    elapsed = time.perf_counter() - started
    copy.unlink()
    return elapsed


def _centre(root: Path, ca: Path, cert: Path, key: Path) -> CentreService:
    fleet_root = root / "fleet"
    config = root / "centre.toml"
    config.write_text(
        f'[centre]\nid = "KZ-CIS"\ndatabase = "sqlite:///{root / "c.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet_root / "nodes" / "KZ-CIS"}"\n'
        f'trust_store = "{fleet_root / "trust.toml"}"\n[api]\nport = 0\n'
        f'[updates]\nrepository = "{root / "repository"}"\nkeys_dir = "{root / "keys"}"\n'
        f'port = 0\ntls_cert = "{cert}"\ntls_key = "{key}"\nclient_ca = "{ca}"\n',
        encoding="utf-8",
    )
    service = CentreService.build(load_centre_config(config))
    service.start()
    if not service.updates_listening.wait(30):
        raise RuntimeError("the centre's update listener did not start")
    return service


def _fetch(box: Path, repository: TufRepository, source: UpdateSource) -> float:
    (box / "image").mkdir(parents=True)
    shutil.copyfile(repository.metadata_dir / "root.json", box / "image" / "root.json")
    (box / "image" / "os-release").write_text("IMAGE_VERSION=1.0\n")
    trust = BoxTrust(box / "tuf", box / "image" / "root.json", box / "image" / "os-release")
    started = time.perf_counter()
    fetch_target(source, "carec-edge-2.0.raucb", box / "downloads", trust=trust)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
