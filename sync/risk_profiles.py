"""The box's side of risk profiles in sync: a `risk_profiles` part from its own centre is kept,
and the version becomes the box's active rule set when it is whole and newer than the one it
has (edge.risk_profiles.store); from anyone else it is refused (quarantined). The centre's side
(the parts of a version, ready to send) is `risk_profile_parts`."""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from edge.logs import log_event
from edge.risk_profiles.model import Profile, RuleSet
from edge.risk_profiles.store import PartOutcome, store_part
from edge.timeutil import utcnow
from sync.envelope import Envelope
from sync.inbox import Applier
from sync.messages import MAX_PROFILES_PER_PART, MAX_RISK_PARTS, RiskProfilesMessage

log = logging.getLogger(__name__)


def risk_profiles_applier(node_id: str, centre: str) -> Applier:
    """The inbox's applier of `risk_profiles` on box `node_id`, whose centre is `centre` (the
    fleet's report_to; empty: no centre, every set is refused). ValueError quarantines."""

    def apply(conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, RiskProfilesMessage)
        if not centre or envelope.origin != centre:
            raise ValueError(
                f"risk_profiles from {envelope.origin}: this box takes them from"
                f" {centre or 'its centre ([fleet] report_to is empty)'} only"
            )
        if payload.country != node_id[:2]:
            raise ValueError(f"risk_profiles for {payload.country}: this box is in {node_id[:2]}")
        header = payload.model_dump(mode="json", exclude={"part", "parts", "profiles"})
        outcome = store_part(
            conn,
            header=header,
            part=payload.part,
            parts=payload.parts,
            profiles=[p.model_dump(mode="json") for p in payload.profiles],
            origin=envelope.origin,
            now=utcnow(),
        )
        log_event(log, logging.INFO, "risk.profiles_part", version=payload.version,
                  part=payload.part, parts=payload.parts, outcome=outcome.value)  # fmt: skip
        if outcome is PartOutcome.OUTDATED:
            log_event(log, logging.WARNING, "risk.profiles_outdated", version=payload.version)

    return apply


PART_BYTES = 160 * 1024  # a part's profiles as JSON, well under the envelope limit


def risk_profile_parts(rules: RuleSet) -> list[RiskProfilesMessage]:
    """A set version as the messages that carry it: as many profiles a part as fit PART_BYTES
    (at most MAX_PROFILES_PER_PART); a set of no profiles is one part (it clears the box's)."""
    chunks: list[list[Profile]] = [[]]
    size = 0
    for profile in rules.profiles:
        length = len(profile.model_dump_json())
        if chunks[-1] and (size + length > PART_BYTES or len(chunks[-1]) >= MAX_PROFILES_PER_PART):
            chunks.append([])
            size = 0
        chunks[-1].append(profile)
        size += length
    if len(chunks) > MAX_RISK_PARTS:
        raise ValueError(f"{len(rules.profiles)} profiles: more than {MAX_RISK_PARTS} parts")
    return [
        RiskProfilesMessage(
            country=rules.country,
            version=rules.version,
            issued_at=rules.issued_at,
            issued_by=rules.issued_by,
            random=rules.random,
            part=i,
            parts=len(chunks),
            profiles=tuple(chunk),
        )
        for i, chunk in enumerate(chunks, start=1)
    ]
