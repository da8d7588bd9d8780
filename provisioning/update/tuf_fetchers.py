"""How the box's TUF client reads the centre's repository: over HTTPS with the box's own
certificate (mutual TLS, as on the broker), or from a directory (a USB stick laid out by
`carec-edge centre updates export-usb`). ngclient bounds each metadata file's size; the bundle's
size is bounded by its signed length (tuf_client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import urllib3
from tuf.api.exceptions import DownloadError, DownloadHTTPError
from tuf.ngclient.fetcher import FetcherInterface

CHUNK = 1 << 20


class DirectoryFetcher(FetcherInterface):
    """file:// URLs inside one directory; a missing file answers as HTTP 404 would (ngclient
    ends its walk of root versions on it)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _fetch(self, url: str) -> Iterator[bytes]:
        parts = urlsplit(url)
        path = Path(unquote(parts.path)).resolve()
        if parts.scheme != "file" or not path.is_relative_to(self.root):
            raise DownloadError(f"{url}: outside {self.root}")  # a link out of the stick
        if path.exists() and not path.is_file():  # a FIFO or device would block or never end
            raise DownloadError(f"{path}: not a regular file")
        try:
            file = open(path, "rb")  # noqa: SIM115 (closed by the generator)
        except FileNotFoundError:
            raise DownloadHTTPError(f"{path}: no such file", 404) from None
        except OSError as error:
            raise DownloadError(f"{path}: {error.strerror}") from None
        return self._chunks(file)

    @staticmethod
    def _chunks(file: BinaryIO) -> Iterator[bytes]:
        with file:
            while chunk := file.read(CHUNK):
                yield chunk


class HttpsFetcher(FetcherInterface):
    """The centre's update endpoints, the box authenticated by its certificate and key."""

    def __init__(self, ca_file: Path, cert_file: Path, key_file: Path,
                 *, timeout_s: float = 60.0) -> None:  # fmt: skip
        self.pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED", ca_certs=str(ca_file), cert_file=str(cert_file),
            key_file=str(key_file), retries=False,
            timeout=urllib3.Timeout(connect=min(timeout_s, 15.0), read=timeout_s),
        )  # fmt: skip

    def _fetch(self, url: str) -> Iterator[bytes]:
        if urlsplit(url).scheme != "https":
            raise DownloadError(f"{url}: only https:// (the box's identity goes with it)")
        try:
            response = self.pool.request("GET", url, preload_content=False)
        except urllib3.exceptions.HTTPError as error:
            raise DownloadError(f"{url}: {error}") from None
        if response.status >= 400:
            response.close()  # its body unread: the connection is not reused
            raise DownloadHTTPError(f"{url}: HTTP {response.status}", response.status)
        return self._chunks(url, response)

    @staticmethod
    def _chunks(url: str, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        whole = False
        try:
            yield from response.stream(CHUNK)
            whole = True
        except urllib3.exceptions.HTTPError as error:
            raise DownloadError(f"{url}: {error}") from None
        finally:  # a connection left mid-body (the reader stopped) is not reused
            response.release_conn() if whole else response.close()

    def close(self) -> None:
        self.pool.clear()
