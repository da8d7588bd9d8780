"""The partner links analytics compares, from the centre's [[partners]]: country, partner
centre, mode."""

from __future__ import annotations

from collections.abc import Iterable

from centre.analytics.collect import Link
from centre.config import PartnerSection


def links_of_config(partners: Iterable[PartnerSection]) -> list[Link]:
    return [Link(p.country, p.centre, p.mode) for p in partners]
