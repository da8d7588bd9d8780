"""The boxes' update endpoints: the TUF repository's files, read-only.

    GET /updates/v1/metadata/{N.root.json | N.targets.json | N.snapshot.json | timestamp.json}
    GET /updates/v1/targets/{sha256}.{name}

They are served on a listener of their own where every box shows its certificate (mutual TLS
against the fleet CA, as on the broker): the CIS's API port takes enrolling boxes that have
none yet, and one TLS listener asks all its clients alike. Names are checked against the
repository's layout before any file is opened, so no path leaves it; what is signed needs no
more protection than that, and the box verifies everything it reads.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse

from provisioning.update.tuf_names import TARGET_NAME

_METADATA = re.compile(r"^(?:[1-9][0-9]{0,8}\.(?:root|targets|snapshot)|timestamp)\.json$")
_TARGET = re.compile(r"^[0-9a-f]{64}\.(.+)$")


def updates_router(repository: Path) -> APIRouter:
    router = APIRouter(prefix="/updates/v1", tags=["updates"])
    metadata_dir, targets_dir = repository / "metadata", repository / "targets"

    @router.get("/metadata/{name}")
    def metadata(name: str) -> FileResponse:
        """A metadata file; timestamp.json is never cached (it is how boxes see freshness)."""
        if not _METADATA.match(name):
            raise HTTPException(404, "not a metadata file of this repository")
        headers = {"Cache-Control": "no-store" if name == "timestamp.json" else "max-age=3600"}
        return _file(metadata_dir / name, "application/json", headers)

    @router.get("/targets/{name}")
    def target(name: str) -> FileResponse:
        """A bundle, under its SHA-256 (the file never changes)."""
        found = _TARGET.match(name)
        if found is None or not TARGET_NAME.match(found.group(1)):
            raise HTTPException(404, "not a target file of this repository")
        return _file(targets_dir / name, "application/octet-stream", {})

    return router


def updates_app(repository: Path) -> FastAPI:
    app = FastAPI(title="carec-edge updates", version="1", openapi_url=None, docs_url=None)
    app.include_router(updates_router(repository))
    return app


def _file(path: Path, media_type: str, headers: dict[str, str]) -> FileResponse:
    if not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(path, media_type=media_type, headers=headers)
