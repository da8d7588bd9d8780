"""The service's links as the overview shows them: `link_states(service.links, partners)`.

Each `PeerLink` (the country's broker, the relay, a CIE partner's broker) gives its state and
counters; an SIE partner has no link object, only its bundle directories, so its row comes from
the config with the times of the newest bundle read and written."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from centre.config import PartnerSection
from centre.console.overview import LinkKind, LinkState
from sync.transport import PeerLink

RELAY_LINK = "relay"
BUNDLE_SUFFIX = ".bundle"


def link_states(links: Sequence[PeerLink], partners: Sequence[PartnerSection]) -> list[LinkState]:
    """The links in the service's order, then one row per SIE partner."""
    cie_partners = {f"cie-{p.country}": p.centre for p in partners if p.mode == "cie"}
    states = [_of_link(link, cie_partners) for link in links]
    states += [_of_sie(partner) for partner in partners if partner.mode == "sie"]
    return states


def _of_link(link: PeerLink, cie_partners: dict[str, str]) -> LinkState:
    name = link.settings.name
    partner = cie_partners.get(name)
    kind: LinkKind = "cie" if partner else "relay" if name == RELAY_LINK else "broker"
    stats = link.stats
    return LinkState(
        name,
        kind,
        partner,
        link.connected.is_set(),
        published=stats.published,
        received=stats.received,
        quarantined=stats.quarantined,
        reconnects=max(0, stats.connects - 1),  # every connection after the first
    )


def _of_sie(partner: PartnerSection) -> LinkState:
    # The service moves each bundle it read into bundle_in/done (refused ones get ".refused").
    read = newest_bundle(partner.bundle_in / "done") if partner.bundle_in else None
    written = newest_bundle(partner.bundle_out) if partner.bundle_out else None
    return LinkState(
        f"sie-{partner.country}",
        "sie",
        partner.centre,
        None,
        last_bundle_read=read,
        last_bundle_written=written,
    )


def newest_bundle(directory: Path) -> dt.datetime | None:
    """When the newest `*.bundle` file in `directory` was last written; None when it holds none
    or does not exist yet. One directory listing: bundles come every few minutes at most."""
    newest: float | None = None
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(BUNDLE_SUFFIX) and entry.is_file():
                    mtime = entry.stat().st_mtime
                    newest = mtime if newest is None else max(newest, mtime)
    except FileNotFoundError:
        return None
    return None if newest is None else dt.datetime.fromtimestamp(newest, dt.UTC)
