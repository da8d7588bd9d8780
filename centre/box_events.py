"""What the boxes send the centre, applied inside the inbox's transaction: arrivals,
decisions and exit confirmations become the CIS's event feed (`cis_events`, in the order the
centre applied them); acknowledgements settle the centre's outbox; telemetry is kept as the
box's peer events; health, twin reports and command results go to the fleet service
(`centre.fleet.reports`).

Exactly once across instances: the inbox records each message id as applied in the same
transaction (`inbox_applied`, its primary key), and `cis_events.message_id` is unique too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, insert, select

from centre.fleet.reports import FLEET_TYPES, FleetReports
from centre.risk_profiles.results import inspection_result_applier
from centre.store.schema import events
from edge.timeutil import utcnow
from sync.apply import acknowledger, record_events
from sync.envelope import Envelope
from sync.inbox import Acknowledger, Applier, Effects
from sync.messages import AckMessage
from sync.outbox import Outbox

# The message types the CIS hears about.
FEED_TYPES = ("arrival", "decision", "exit_confirmation")


# Held until the transaction ends, on PostgreSQL: events commit in the order of their ids, so a
# CIS reading after a cursor never skips an event another instance committed a moment later.
FEED_LOCK = 7207202


def feed_events(conn: Connection, envelopes: Sequence[Envelope]) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({FEED_LOCK})")
    # An exit confirmation relayed twice (two partner messages carrying it) is one event.
    ids = [e.id for e in envelopes]
    known = set(
        conn.execute(select(events.c.message_id).where(events.c.message_id.in_(ids))).scalars()
    )
    fresh = {e.id: e for e in envelopes if e.id not in known}
    if not fresh:
        return
    now = utcnow()
    conn.execute(
        insert(events),
        [
            {
                "message_id": e.id, "type": e.type, "origin": e.origin, "created_at": e.created,
                "received_at": now, "payload": e.payload.model_dump_json(exclude_none=True),
            }
            for e in fresh.values()
        ],
    )  # fmt: skip


def box_events(
    conn: Connection, envelopes: Sequence[Envelope], fleet: FleetReports | None = None
) -> None:
    """A batch's events, whatever their mix: the feed's in one statement, the telemetry's in
    another, the fleet's reports in a few (one applier for all, so the inbox's run is not cut
    at every change of type)."""
    feed = [e for e in envelopes if e.type in FEED_TYPES]
    telemetry = [e for e in envelopes if e.type == "telemetry"]
    reports = [e for e in envelopes if e.type in FLEET_TYPES]
    if feed:
        feed_events(conn, feed)
    if telemetry:
        record_events(conn, telemetry)
    if reports:
        (fleet or FleetReports()).apply(conn, reports)


def centre_appliers(
    outbox: Outbox,
    partners: Mapping[str, Applier] | None = None,
    fleet: FleetReports | None = None,
) -> Mapping[str, Applier]:
    """The boxes' events, acknowledgements, telemetry, fleet reports (with the [fleet]
    settings in `fleet`), and what partner centres send
    (`centre.partner_inbox.partner_appliers`)."""

    def acks(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        ids = [i for e in envelopes if isinstance(e.payload, AckMessage) for i in e.payload.ids]
        outbox.delivered(conn, ids)

    reports = fleet or FleetReports()
    # One instance: a batch's events are one run.
    events = Effects(lambda conn, envelopes: box_events(conn, envelopes, reports))
    appliers: dict[str, Applier] = dict.fromkeys((*FEED_TYPES, "telemetry", *FLEET_TYPES), events)
    appliers["ack"] = Effects(acks)
    # What the boxes' checks found, against the risk profiles that sent the trucks there.
    appliers["inspection_result"] = inspection_result_applier()
    appliers.update(partners or {})
    return appliers


def centre_acknowledger(outbox: Outbox) -> Acknowledger:
    return acknowledger(outbox)
