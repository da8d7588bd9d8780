"""Electronic seal (ISO 18185) readers on a serial line: each reader protocol turns the
reader's frames into `SealRead`s (seal id, sealed / opened / tampered, battery, logged events).

`carec-eseal/1` (docs/eseal-protocol.md) is ours; a vendor's protocol is one more module named
`<vendor>_protocol.py` here (see `adapter.py`), imported below so that the config can name it.
Mechanical seals carry no electronics: they are read as barcodes (`drivers.barcode`)."""

from __future__ import annotations

import importlib
import pkgutil

from drivers.eseal.adapter import ESealProtocol, ESealReaderConfig, make_protocol, protocol_names

for _module in pkgutil.iter_modules(__path__):
    if _module.name.endswith("_protocol"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ESealProtocol", "ESealReaderConfig", "make_protocol", "protocol_names"]
