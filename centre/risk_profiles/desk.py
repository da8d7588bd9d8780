"""Issuing a rule set version: a draft (the random rates and the profiles, as a form, a JSON or
TOML upload or the CIS's API call gives them) is checked strictly, becomes version N+1 of the
country's set, and is written, part by part, to the outbox for every box of the country, all in
one transaction: a set is issued to every box or to none."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, Engine, func, insert, select

from centre.store.schema import fleet_boxes, risk_profile_sets
from edge.json_input import JsonInputError, parse_json
from edge.manifest import describe_validation_error
from edge.risk_profiles.model import MAX_PROFILES, Profile, RandomRates, RuleSet
from sync.outbox import Outbox
from sync.risk_profiles import risk_profile_parts

MAX_DRAFT_BYTES = 16 << 20  # 20,000 profiles of a few hundred bytes each, with room to spare
ENROLLED = "enrolled"


class DraftError(ValueError):
    """A draft that is not a valid set, with one `path: reason` per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Draft(BaseModel):
    """What an author gives: the set's random rates and its profiles (the centre sets the
    country, the version and who issued it when)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    random: RandomRates = RandomRates()
    profiles: Annotated[tuple[Profile, ...], Field(max_length=MAX_PROFILES)] = ()


def parse_draft(data: object) -> Draft:
    if not isinstance(data, dict):
        raise DraftError([f"draft: expected an object, got {type(data).__name__}"])
    try:
        draft = Draft.model_validate(data)
        # the set's own checks (a name used twice) on a stand-in header
        RuleSet.model_validate(
            {"country": "KZ", "version": 1, "issued_at": "2026-01-01T00:00:00Z",
             "issued_by": "draft", **draft.model_dump()}
        )  # fmt: skip
    except ValidationError as error:
        raise DraftError(describe_validation_error(error)) from None
    return draft


def parse_draft_text(text: str | bytes, kind: str) -> Draft:
    """A JSON or TOML (`kind`) upload: {random = {yellow, red}, profiles = [...]}."""
    if len(text) > MAX_DRAFT_BYTES:
        raise DraftError([f"upload: more than {MAX_DRAFT_BYTES} bytes"])
    if kind == "toml":
        try:
            raw = text.decode("utf-8") if isinstance(text, bytes) else text
            data: object = tomllib.loads(raw)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise DraftError([f"upload: not TOML: {error}"]) from None
    elif kind == "json":
        try:
            data = parse_json(text, "upload")
        except JsonInputError as error:
            raise DraftError([str(error)]) from None
    else:
        raise DraftError([f"format: {kind!r} is not json or toml"])
    return parse_draft(data)


@dataclass(frozen=True)
class Issued:
    rules: RuleSet
    boxes: list[str]
    messages: int


class RiskProfileDesk:
    """The country's risk profiles: issued version by version to every box of the country
    (the routing table's boxes and the fleet's enrolled ones)."""

    def __init__(
        self,
        engine: Engine,
        outbox: Outbox,
        country: str,
        routed_boxes: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.country = country
        self.routed_boxes = routed_boxes

    def boxes(self, conn: Connection) -> list[str]:
        enrolled = conn.execute(
            select(fleet_boxes.c.node_id).where(fleet_boxes.c.state == ENROLLED)
        ).scalars()
        nodes = {*enrolled, *self.routed_boxes()}
        return sorted(n for n in nodes if n[:2] == self.country and n != self.outbox.signer.node_id)

    def issue(
        self, conn: Connection, draft: Draft, issued_by: str, source: str, now: dt.datetime
    ) -> Issued:
        """Version N+1 of the set, stored and sent in the caller's transaction."""
        latest = conn.execute(select(func.max(risk_profile_sets.c.version))).scalar()
        rules = RuleSet(
            country=self.country, version=(latest or 0) + 1, issued_at=now,
            issued_by=issued_by[:64], random=draft.random, profiles=draft.profiles,
        )  # fmt: skip
        boxes = self.boxes(conn)
        parts = risk_profile_parts(rules)
        if boxes:
            self.outbox.send_many([(part, box, None) for box in boxes for part in parts], conn)
        conn.execute(
            insert(risk_profile_sets).values(
                version=rules.version, country=rules.country, issued_at=now,
                issued_by=rules.issued_by, source=source[:32], profiles=len(rules.profiles),
                messages=len(parts) * len(boxes), boxes=len(boxes), body=rules.model_dump_json(),
            )
        )  # fmt: skip
        return Issued(rules, boxes, len(parts) * len(boxes))

    def current(self) -> RuleSet | None:
        with self.engine.connect() as conn:
            body = conn.execute(
                select(risk_profile_sets.c.body)
                .order_by(risk_profile_sets.c.version.desc())
                .limit(1)
            ).scalar()
        return RuleSet.model_validate_json(body) if body is not None else None

    def versions(self, limit: int = 50) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(
                        risk_profile_sets.c.version, risk_profile_sets.c.issued_at,
                        risk_profile_sets.c.issued_by, risk_profile_sets.c.source,
                        risk_profile_sets.c.profiles, risk_profile_sets.c.boxes,
                    )
                    .order_by(risk_profile_sets.c.version.desc())
                    .limit(limit)
                ).all()
            )  # fmt: skip


def draft_json(rules: RuleSet | None) -> str:
    """The set as an editable draft (the console's text box): its random rates and profiles."""
    if rules is None:
        return json.dumps({"random": {"yellow": 0.0, "red": 0.0}, "profiles": []}, indent=2)
    data = rules.model_dump(mode="json", include={"random", "profiles"}, exclude_none=True)
    return json.dumps(data, indent=2, ensure_ascii=False)
