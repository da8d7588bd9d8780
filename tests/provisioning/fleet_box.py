"""A box's fleet agent without its service: the real store (SQLite file), outbox and inbox,
the twin and command appliers, and the country's centre signing what it sends, delivered
through the box's inbox as a broker would hand it over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from edge.cli.preflight import config_problems
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.schema import outbox, outbox_envelopes
from edge.timeutil import utcnow
from provisioning.fleet.commands import Commands
from provisioning.fleet.twin import FleetSettings, TwinApplier, TwinReporter, TwinWatch
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.envelope import open_envelope
from sync.inbox import Inbox, Incoming, Result
from sync.messages import (
    CommandMessage,
    Message,
    TwinDesiredMessage,
    new_message_id,
)
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup

BOX, CENTRE, OTHER_BOX = "KZ-NURZHOLY-1", "KZ-CIS", "KZ-KORGAS-1"


def box_toml(fleet: Fleet, extra: str = "") -> str:
    return f"""# The box at Nur Zholy: its own comment stays through a twin change.
[node]
id = "{BOX}"

[kiosk]
enabled = false

[matching]
min_score = 0.35

[sync]
identity_dir = "{fleet.nodes[BOX]}"
trust_store = "{fleet.trust_store}"

[[sync.peers]]
name = "hub"
host = "127.0.0.1"
port = 8883
ca_file = "{fleet.ca_bundle}"
destinations = ["*"]

[fleet]
report_to = "{CENTRE}"
{extra}"""


@dataclass
class FleetBox:
    fleet: Fleet
    engine: Engine
    config_path: Path
    outbox: Outbox
    inbox: Inbox
    settings: FleetSettings
    watch: TwinWatch
    commands: Commands
    reporter: TwinReporter
    centre: dict[str, Outbox]  # origin -> its outbox, signing what it sends to the box
    connected: list[str] = field(default_factory=list)
    restarts_asked: int = 0
    pending_woken: int = 0

    def send(self, payload: Message, origin: str = CENTRE) -> list[Result]:
        """`payload` signed by `origin` and received by the box's inbox, as a broker would."""
        sender = self.centre[origin]
        message_id = sender.send(payload, BOX)
        (item,) = [o for o in sender.take("hub", 1000) if o.id == message_id]
        return self.inbox.receive([Incoming("hub", item.topic, item.envelope)])

    def sent(self, message_type: str) -> list[Message]:
        """The payloads the box queued for its centre, of one type, in order."""
        keys = key_lookup(TrustStore.load(self.fleet.trust_store))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox_envelopes.c.envelope)
                .join(outbox, outbox.c.id == outbox_envelopes.c.id)
                .where(outbox.c.type == message_type)
                .order_by(outbox.c.created_at, outbox.c.seq)
            ).all()
        return [
            open_envelope(
                bytes(row.envelope), keys, expected_destination=CENTRE, now=utcnow(), max_age=None
            ).payload
            for row in rows
        ]


def make_box(tmp_path: Path, extra_config: str = "") -> FleetBox:
    fleet = make_fleet(tmp_path / "fleet", [BOX, CENTRE, OTHER_BOX])
    config_path = tmp_path / "carec-edge.toml"
    config_path.write_text(box_toml(fleet, extra_config), encoding="utf-8")
    engine = open_database(tmp_path / "box")
    box_outbox = Outbox(engine, Signer.load(fleet.nodes[BOX], BOX), [Route("*", "hub")])
    settings = FleetSettings(BOX, CENTRE, "0.1.0-test", config_path)
    holder: dict[str, FleetBox] = {}

    def connected() -> list[str]:
        return list(holder["box"].connected)

    def restart() -> None:
        holder["box"].restarts_asked += 1

    def woken() -> None:
        holder["box"].pending_woken += 1

    reporter = TwinReporter(box_outbox, settings, connected)
    commands = Commands(engine, box_outbox, settings, woken)
    twin = TwinApplier(
        reporter,
        check_config=lambda config: config_problems(config, data_dir=None),
        connected_devices=connected,
        on_applying=restart,
    )
    cache = ManifestCache(engine)
    keys = key_lookup(TrustStore.load(fleet.trust_store))
    inbox = Inbox(
        engine, BOX, keys,
        appliers(cache, box_outbox) | {"twin_desired": twin, "command": commands},
        on_failed_transaction=cache.forget_index, acknowledge=acknowledger(box_outbox),
    )  # fmt: skip
    senders = {}
    for origin in (CENTRE, OTHER_BOX):
        sender_engine = open_database(tmp_path / f"sender-{origin}")
        senders[origin] = Outbox(
            sender_engine, Signer.load(fleet.nodes[origin], origin), [Route("*", "hub")]
        )
    box = FleetBox(
        fleet, engine, config_path, box_outbox, inbox, settings,
        TwinWatch(engine, settings), commands, reporter, senders,
    )  # fmt: skip
    holder["box"] = box
    return box


def twin(
    version: int, sections: dict[str, object], *, grace_s: int = 60, node: str = BOX
) -> TwinDesiredMessage:
    return TwinDesiredMessage.model_validate(
        {
            "node": node, "version": version, "issued_by": "fleet-op", "issued_at": utcnow(),
            "sections": sections, "grace_s": grace_s,
        }
    )  # fmt: skip


def command(
    action: str, *, node: str = BOX, expires_in: dt.timedelta = dt.timedelta(minutes=10),
    command_id: str | None = None,
) -> CommandMessage:  # fmt: skip
    now = utcnow()
    return CommandMessage(
        command_id=command_id or new_message_id(), node=node, action=action,
        issued_by="fleet-op", issued_at=now - dt.timedelta(minutes=1), expires_at=now + expires_in,
    )  # fmt: skip


def outcomes(results: Sequence[Result]) -> list[str]:
    return [r.outcome.value for r in results]
