"""Node ids: `<country>-<post>-<n>` (KZ-NURZHOLY-1) or `<country>-<NAME>` (KZ-CIS, KZ-BROKER).

The country is ISO 3166-1 alpha-2; the post or name is capital Latin letters and digits starting
with a letter (no hyphens, so the id splits one way); `n` is 1 to 9999 without leading zeros. The
id is written in capitals; its lowercase form is a valid DNS label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.codes import COUNTRIES_ALPHA2
from provisioning.identity.errors import InvalidNodeIdError

URN_PREFIX = "urn:carec:node:"

_NODE_ID = re.compile(
    r"(?P<country>[A-Z]{2})-(?P<post>[A-Z][A-Z0-9]{0,31})(?:-(?P<n>[1-9][0-9]{0,3}))?"
)
_EXAMPLE = "such as KZ-NURZHOLY-1 or KZ-CIS"


@dataclass(frozen=True, order=True)
class NodeId:
    country: str
    post: str
    number: int | None = None

    @classmethod
    def parse(cls, text: str) -> NodeId:
        match = _NODE_ID.fullmatch(text)
        if match is None:
            hint = "; write it in capitals" if _NODE_ID.fullmatch(text.upper()) else ""
            raise InvalidNodeIdError(
                f"node id {text!r} is not <country>-<post>-<n> {_EXAMPLE}{hint}"
            )
        country = match["country"]
        if country not in COUNTRIES_ALPHA2:
            raise InvalidNodeIdError(
                f"node id {text!r}: {country!r} is not an ISO 3166-1 alpha-2 country"
            )
        number = match["n"]
        return cls(country, match["post"], int(number) if number else None)

    @classmethod
    def from_urn(cls, urn: str) -> NodeId:
        if not urn.startswith(URN_PREFIX):
            raise InvalidNodeIdError(f"{urn!r} is not a node URN ({URN_PREFIX}<node id>)")
        return cls.parse(urn.removeprefix(URN_PREFIX))

    def __str__(self) -> str:
        base = f"{self.country}-{self.post}"
        return base if self.number is None else f"{base}-{self.number}"

    @property
    def urn(self) -> str:
        return f"{URN_PREFIX}{self}"

    @property
    def dns_name(self) -> str:
        return str(self).lower()
