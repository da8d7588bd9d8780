"""The partner links' modes in force: the IE assessment's confirmed decisions over the config.

An operator confirms a link's mode from its pair's classification in the console (audited,
`centre.assessment.store`); the centre follows the latest confirmation from its next start,
where the partner's [[partners]] entry has what that mode needs (host and ca_file for CIE,
the bundle directories for SIE). Where it has not, the configured mode stays and the start
says why. The TOML file is never rewritten: the decision lives in the database, beside its
audit."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from pydantic import ValidationError
from sqlalchemy import Engine

from centre.assessment.store import Decision, confirmed_modes
from centre.config import CentreConfig, PartnerSection
from edge.logs import log_event

log = logging.getLogger(__name__)

MODES = ("sie", "cie")


def partners_in_force(
    partners: Sequence[PartnerSection], confirmed: Mapping[str, Decision]
) -> tuple[list[PartnerSection], dict[str, str]]:
    """The partners with each confirmed mode applied where the entry allows it, and what was
    done per partner country ("followed", or why not)."""
    out: list[PartnerSection] = []
    notes: dict[str, str] = {}
    for partner in partners:
        decision = confirmed.get(partner.country)
        wanted = decision.mode.value if decision is not None else None
        if wanted is None or wanted == partner.mode or wanted not in MODES:
            out.append(partner)
            continue
        try:
            switched = PartnerSection.model_validate(partner.model_dump() | {"mode": wanted})
        except ValidationError as error:
            out.append(partner)
            problem = error.errors(include_url=False)[0]["msg"]
            notes[partner.country] = f"kept {partner.mode}: {problem}"
            continue
        out.append(switched)
        notes[partner.country] = f"followed: {partner.mode} -> {wanted}"
    return out, notes


def config_in_force(config: CentreConfig, engine: Engine) -> CentreConfig:
    """`config` with the confirmed link modes it can follow (each change logged)."""
    partners, notes = partners_in_force(config.partners, confirmed_modes(engine))
    for country, note in sorted(notes.items()):
        level = logging.INFO if note.startswith("followed") else logging.WARNING
        log_event(log, level, "centre.link_mode", partner=country, outcome=note[:200])
    return config.model_copy(update={"partners": partners}) if notes else config
