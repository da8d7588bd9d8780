"""Which boxes a record concerns: the routing table maps customs offices to the boxes there,
and a record goes to the boxes of its border office, its office of departure and its office of
destination, whichever of them the table knows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edge.manifest import Manifest


@dataclass(frozen=True)
class Routing:
    offices: Mapping[str, Sequence[str]]
    # A partner country's offices are reached through its centre: country -> centre id.
    partners: Mapping[str, str] = field(default_factory=dict)

    def offices_of(self, record: Manifest) -> list[str]:
        """The record's offices, border first, each once."""
        named = (record.office_border, record.office_departure, record.office_destination)
        return list(dict.fromkeys(office for office in named if office))

    def nodes_for(self, record: Manifest, *, partners: bool = True) -> list[str]:
        """The boxes the record goes to, in the order of its offices, each once; and, unless
        `partners` is False (a record that came from a partner goes no further), the partner
        centres of its offices abroad."""
        nodes: dict[str, None] = {}
        for office in self.offices_of(record):
            for node in self.offices.get(office, ()):
                nodes[node] = None
            partner = self.partners.get(office[:2])
            if partners and partner is not None:
                nodes[partner] = None
        return list(nodes)

    def unserved(self, record: Manifest) -> list[str]:
        """The record's offices no box and no partner centre serves (said in its history, not
        refused: a CIS sends records for offices whose boxes come later)."""
        return [
            office
            for office in self.offices_of(record)
            if office not in self.offices and office[:2] not in self.partners
        ]
