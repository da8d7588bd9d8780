"""The centre's wiring (`carec-edge centre run`): its database, its signed outbox and inbox on
the country's broker, the records desk, the API server, the drop directory and the periodic
jobs, each on a thread of its own, until SIGTERM.

Several instances may run against one PostgreSQL: the broker spreads the boxes' messages over
them (an MQTT 5 shared subscription), the database applies each message id once, each outbox
message is taken by one instance (`SKIP LOCKED`), and the periodic jobs run on whichever
instance holds their advisory lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError

from centre.api import ApiSettings, create_api
from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import ApiSection, CentreConfig, PartnerSection
from centre.console.app import create_console
from centre.console.link_states import link_states
from centre.drop_directory import DropDirectory
from centre.fleet.alerts import AlertNotifier, check_silence
from centre.fleet.desk import FleetDesk
from centre.fleet.enrolment import Enrolments, EnrolmentSettings
from centre.fleet.enrolment_api import Limits, enrolment_router
from centre.fleet.partner_revocation import partner_revocation_applier
from centre.fleet.reports import FleetReports
from centre.fleet.retention import purge_fleet
from centre.fleet.revocation import CentreRevocations, refresh_crl, reload_broker
from centre.link_modes import config_in_force
from centre.partner_inbox import Relaying, apply_partner_message, partner_appliers
from centre.records import RecordDesk
from centre.relay_tap import RelayTap, relay_patterns
from centre.review_queue import Held, ReviewQueue, hold
from centre.risk_retention import purge_risk
from centre.routing import Routing
from centre.store import open_centre_database
from centre.store.schema import (
    console_audit,
    drop_files,
    events,
    partner_review,
    record_history,
    record_routes,
    records,
)
from centre.updates.api import updates_app
from centre.updates.rollout_store import RolloutStore
from centre.updates.tuf_repository import repository_of
from centre.webhooks import POLL_S, webhook_job
from edge import systemd_notify
from edge.logs import log_event
from edge.store.schema import outbox as outbox_table
from edge.timeutil import system_utcnow, utcnow
from provisioning.identity.trust import TrustStore
from sync.bundle import BundleError, export_bundle
from sync.bundle_import import import_bundle
from sync.dialect import BROKER_ACK_ENOUGH
from sync.envelope import Envelope
from sync.inbox import Inbox
from sync.messages import ExitConfirmationMessage, ManifestMessage, RelayMessage
from sync.outbox import Outbox, Route, Signer
from sync.relay import open_relayed
from sync.retention import purge_sync_tables
from sync.setup import key_lookup
from sync.tlog.rounds import INTEGRATE_EVERY_S, LogRounds
from sync.tlog.store import TransparencyLog
from sync.tlog.witness import tlog_appliers
from sync.transport import PeerLink, PeerSettings, Pipeline

log = logging.getLogger(__name__)

BROKER_PEER = "broker"
JOBS_LOCK = 7207203  # the PostgreSQL advisory lock of the periodic jobs
REVOCATIONS_EVERY_S = 60.0  # how soon an instance refuses a box another one revoked
CRL_EVERY_S = 86_400.0  # the CRL is re-signed daily (it is valid crl_days)
FLEET_LOCK = 7207204  # ... and of the fleet's checks (centre.fleet.alerts)
TLOG_LOCK = 7207205  # ... and of the transparency log's rounds (one instance publishes)
ROOT_WARN = dt.timedelta(days=30)  # the update metadata's root ending this soon is logged


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class CentreService:
    config: CentreConfig
    engine: Engine
    outbox: Outbox
    desk: RecordDesk
    inbox: Inbox
    review: ReviewQueue
    links: list[PeerLink] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    api_port: int | None = None  # the port the API listens on, once it does
    # Applies the broker link's batches, one at a time, in order, while the link verifies
    # the next one (signatures are CPU, applying is mostly waiting on the database).
    store: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="centre-inbox")
    )
    api_listening: threading.Event = field(default_factory=threading.Event)
    fleet: FleetDesk | None = None  # the fleet service's desk (centre.fleet)
    rollouts: RolloutStore | None = None  # its update rollouts (centre.updates)
    # Enrolment ([fleet.enrolment]) and the revoked boxes the inbox refuses.
    enrolments: Enrolments | None = None
    revocations: CentreRevocations | None = None
    updates_port: int | None = None  # the boxes' update listener's port, once it listens
    updates_listening: threading.Event = field(default_factory=threading.Event)
    # The centre's transparency log (sync.tlog): checkpoints to config.transparency's witnesses.
    tlog: TransparencyLog | None = None
    log_rounds: LogRounds | None = None  # its upkeep: integrate, checkpoint, publish, purge

    @classmethod
    def build(cls, config: CentreConfig) -> CentreService:
        centre = config.centre
        engine = open_centre_database(centre.database)
        # The link modes operators confirmed from the IE assessment, where the config allows.
        config = config_in_force(config, engine)
        signer = Signer.load(config.identity.identity_dir, centre.id)
        key_for = key_lookup(TrustStore.load(config.identity.trust_store))
        outbox = Outbox(
            engine, signer, outbox_routes(config), transparency=config.transparency.enabled
        )
        partners = {p.country: p.centre for p in config.partners}
        desk = RecordDesk(engine, outbox, Routing(config.routing, partners))
        own_nodes = frozenset(node for nodes in config.routing.values() for node in nodes)
        relaying = Relaying(key_for, own_nodes)
        review = ReviewQueue(engine, lambda conn, held: _approved(desk, conn, held, relaying))
        modes = {p.centre: p.mode for p in config.partners}
        hold = partial(_hold, relaying) if any(m == "sie" for m in modes.values()) else None
        # Partner centres' revocations of their boxes: refused here at once, told to the boxes.
        revocations = CentreRevocations(engine, key_for)
        revoking = partner_revocation_applier(
            key_for.trust, {p.centre: p.country for p in config.partners}, outbox,
            on_accepted=revocations.add,
        )  # fmt: skip
        fleet = FleetDesk(engine, outbox, settings=config.fleet)
        # Update rollouts move on with each batch of the boxes' reports, in its transaction.
        rollouts = RolloutStore(engine, fleet, config.fleet)
        # The witness protocol: partners' and boxes' checkpoints, cosignatures of ours, alerts.
        tlog = TransparencyLog(engine, centre.id, signer.private_key)
        witnessing = tlog_appliers(
            tlog, outbox, key_for, centre.id, signer.private_key,
            config.transparency.report_to,
        )  # fmt: skip
        appliers = centre_appliers(
            outbox,
            {**partner_appliers(desk, modes, hold, relaying), "revocation": revoking,
             **witnessing},
            FleetReports(config.fleet, updates=rollouts),
        )  # fmt: skip
        inbox = Inbox(
            engine, centre.id, key_for, appliers, acknowledge=centre_acknowledger(outbox),
            gap_timeout=dt.timedelta(seconds=config.broker.gap_timeout_s if config.broker else 600),
            transparency=config.transparency.enabled,
        )  # fmt: skip
        service = cls(config, engine, outbox, desk, inbox, review)
        service.fleet = fleet
        service.tlog = tlog
        if config.transparency.enabled:
            service.log_rounds = LogRounds(tlog, outbox, config.transparency)
        service.rollouts = rollouts
        service.revocations = revocations
        service.revocations.refresh()  # revoked boxes are refused from the first message on
        if config.fleet.enrolment is not None:
            service.enrolments = Enrolments(
                engine, outbox,
                EnrolmentSettings.of(
                    config.fleet.enrolment, config.identity.trust_store,
                    partner_centres=[p.centre for p in config.partners],
                ),
                on_revoked=service.revocations.refresh,
            )  # fmt: skip
        broker = config.broker
        if broker is not None:
            identity = config.identity.identity_dir
            settings = PeerSettings(
                BROKER_PEER, broker.host, broker.port, broker.ca_file, identity / "node.crt",
                identity / "node.key", shared_group=broker.shared_group,
                client_id=f"{centre.id}-{centre.instance}",
                session_expiry_s=broker.session_expiry_s,
            )  # fmt: skip
            store = service.store
            receive = Pipeline(inbox.check, lambda checked: store.submit(inbox.apply, checked))
            service.links.append(
                PeerLink(settings, centre.id, outbox, receive, on_health=service.link_health)
            )
            if partners:
                tap = RelayTap(engine, outbox, key_for, partners, inbox)
                relay = replace(
                    settings, name="relay", client_id=f"{centre.id}-{centre.instance}-relay",
                    subscriptions=tuple(relay_patterns(centre.country)),
                )  # fmt: skip
                service.links.append(PeerLink(relay, centre.id, None, tap.receive))
        for partner in config.partners:
            if partner.mode == "cie":
                assert partner.host is not None
                assert partner.ca_file is not None
                identity = config.identity.identity_dir
                link = PeerSettings(
                    _peer_of(partner), partner.host, partner.port, partner.ca_file,
                    identity / "node.crt", identity / "node.key", receive=False,
                    client_id=f"{centre.id}-{centre.instance}-{partner.country}",
                )  # fmt: skip
                service.links.append(
                    PeerLink(link, centre.id, outbox, None, on_health=service.link_health)
                )
        return service

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self.config.webhooks:  # reads the key files now: a missing one stops the start
            send_webhooks = webhook_job(self.engine, self.config.webhooks)
            self._every("webhooks", POLL_S, send_webhooks)
        for link in self.links:
            link.start()
        if self.config.console is not None:
            self._thread("console", self._serve_console)
        self._thread("api", self._serve_api)
        if self.config.drop.directory is not None:
            drop = DropDirectory(
                self.config.drop.directory, self.desk, self.config.centre.country,
                self.config.centre.instance,
            )  # fmt: skip
            self._every("drop", self.config.drop.poll_s, drop.poll)
        self._every("jobs", self.config.retention.purge_interval_minutes * 60, self.run_jobs)
        # Reads the alert webhooks' key files now: a missing one stops the start.
        notifier = AlertNotifier(self.engine, self.config.fleet.alert_webhooks)
        self._every("fleet", self.config.fleet.check_every_s, partial(self.fleet_checks, notifier))
        if self.rollouts is not None:  # each rollout row is locked while driven: any instance
            self._every("rollouts", self.config.fleet.check_every_s, self.rollouts.drive)
        self._every("revocations", REVOCATIONS_EVERY_S, self.enrolment_jobs)
        self._every("transparency", INTEGRATE_EVERY_S, self.log_round)
        if self.config.updates is not None:
            self._every("updates", self.config.updates.refresh_every_s, self.refresh_updates)
            if self.config.updates.port is not None:
                self._thread("updates-api", self._serve_updates)
        for partner in self.config.partners:
            if partner.mode == "sie":
                self._every(
                    f"sie-{partner.country}", partner.bundle_every_minutes * 60,
                    partial(self.exchange_bundles, partner),
                )  # fmt: skip
        log_event(log, logging.INFO, "centre.started", node=self.config.centre.id,
                  instance=self.config.centre.instance)  # fmt: skip

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        for link in self.links:
            link.stop()
        self.store.shutdown()
        self.engine.dispose()

    def database_answers(self) -> bool:
        """A round trip to the database (the watchdog is petted only after one)."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            log_event(log, logging.ERROR, "centre.database_unreachable")
            return False
        return True

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"centre-{name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _every(self, name: str, seconds: float, job: Callable[[], object]) -> None:
        def loop() -> None:
            while not self.stop.is_set():
                try:
                    job()
                except Exception:  # one failed round is logged; the next one tries again
                    log.exception("centre.job_failed", extra={"job": name})
                self.stop.wait(seconds)

        self._thread(name, loop)

    def _serve_api(self) -> None:
        api = self.config.api
        enrolment = self.config.fleet.enrolment
        app = create_api(
            self.desk,
            ApiSettings(self.config.centre.country, api.clients, api.max_records_per_request),
            enrolment=None if self.enrolments is None or enrolment is None else enrolment_router(
                self.enrolments,
                Limits(enrolment.per_address_per_minute, enrolment.per_serial_per_minute),
            ),
        )  # fmt: skip
        sock = socket.create_server((api.host, api.port), reuse_port=False)
        self.api_port = sock.getsockname()[1]
        self.api_listening.set()  # connections wait in the socket's backlog until uvicorn runs
        server = _Server(uvicorn.Config(app, log_config=None, access_log=False, **_tls(api)))

        def stop_server() -> None:
            self.stop.wait()
            server.should_exit = True

        threading.Thread(target=stop_server, name="centre-api-stop", daemon=True).start()
        log_event(log, logging.INFO, "centre.api", host=api.host, port=self.api_port)
        server.run(sockets=[sock])

    def _serve_updates(self) -> None:
        """The boxes' update endpoints (centre.updates.api), each box by its certificate."""
        updates = self.config.updates
        assert updates is not None
        assert updates.port is not None
        sock = socket.create_server((updates.host, updates.port), reuse_port=False)
        self.updates_port = sock.getsockname()[1]
        tls: dict[str, Any] = {
            "ssl_certfile": str(updates.tls_cert), "ssl_keyfile": str(updates.tls_key),
            "ssl_ca_certs": str(updates.client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }  # fmt: skip
        app = updates_app(updates.repository)
        server = _Server(uvicorn.Config(app, log_config=None, access_log=False, **tls))

        def stop_server() -> None:
            self.stop.wait()
            server.should_exit = True

        threading.Thread(target=stop_server, name="centre-updates-stop", daemon=True).start()
        self.updates_listening.set()
        log_event(log, logging.INFO, "centre.updates_api", host=updates.host,
                  port=self.updates_port)  # fmt: skip
        server.run(sockets=[sock])

    def _serve_console(self) -> None:
        console = self.config.console
        assert console is not None
        app = create_console(
            self.engine, console, self.inbox, centre_id=self.config.centre.id,
            routing=self.config.routing, review=self.review,
            links=lambda: link_states(self.links, self.config.partners), fleet_desk=self.fleet,
            enrolments=self.enrolments,
        )  # fmt: skip
        if self.config.updates is not None:  # the update pages offer the repository's bundles
            app.state.update_targets = repository_of(self.config.updates).targets
        sock = socket.create_server((console.host, console.port), reuse_port=False)
        tls: dict[str, Any] = {}
        if console.tls_cert is not None:
            tls = {"ssl_certfile": str(console.tls_cert), "ssl_keyfile": str(console.tls_key)}
        server = _Server(uvicorn.Config(app, log_config=None, access_log=False, **tls))

        def stop_server() -> None:
            self.stop.wait()
            server.should_exit = True

        threading.Thread(target=stop_server, name="centre-console-stop", daemon=True).start()
        port = sock.getsockname()[1]
        log_event(log, logging.INFO, "centre.console", host=console.host, port=port)
        server.run(sockets=[sock])

    # -- the simple exchange: signed file bundles ------------------------------------------------

    def exchange_bundles(self, partner: PartnerSection) -> tuple[Path | None, int]:
        """Apply every bundle the partner left in `bundle_in` (its records wait in the review
        queue), then write what the partner has not confirmed (the acknowledgements of what was
        just read among it) to a new bundle in `bundle_out`; the bundle written (None when
        nothing waits) and how many were read."""
        assert partner.bundle_out is not None
        assert partner.bundle_in is not None
        if self.log_rounds is not None:  # a bundle is a sync: the checkpoint goes with it
            self.log_rounds.synced()
            self.log_round()
        read = 0
        done = partner.bundle_in / "done"
        done.mkdir(parents=True, exist_ok=True)
        for path in sorted(partner.bundle_in.glob("*.bundle")):
            try:
                report = import_bundle(self.inbox, path)
            except (BundleError, OSError) as error:
                log_event(log, logging.WARNING, "sie.bundle_refused", partner=partner.country,
                          file=path.name, error=str(error)[:300])  # fmt: skip
                path.rename(done / f"{path.name}.refused")
                continue
            log_event(log, logging.INFO, "sie.bundle_read", partner=partner.country,
                      file=path.name, summary=report.summary())  # fmt: skip
            path.rename(done / path.name)
            read += 1
        written = None
        peer = _peer_of(partner)
        if self.outbox.has_pending(peer) or self.outbox.unconfirmed(peer):
            partner.bundle_out.mkdir(parents=True, exist_ok=True)
            stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
            name = f"{self.config.centre.id}-to-{partner.centre}-{stamp}.bundle"
            written = export_bundle(self.outbox, peer, partner.bundle_out / name).path
            # A written bundle is what a broker's PUBACK is to a link: acks and telemetry need
            # no more (the rest waits for the partner's acknowledgement, in its bundles).
            with self.engine.begin() as conn:
                self.outbox.delivered(conn, self._handed_over(peer))
            log_event(log, logging.INFO, "sie.bundle_written", partner=partner.country,
                      file=name)  # fmt: skip
        return written, read

    def _handed_over(self, peer: str) -> list[str]:
        table = outbox_table
        waiting = (table.c.peer == peer) & table.c.state.in_(("pending", "inflight"))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.id).where(waiting & table.c.type.in_(BROKER_ACK_ENOUGH))
            )
            return list(rows.scalars())

    # -- periodic jobs -----------------------------------------------------------------------

    def run_jobs(self) -> None:
        """Retention, on one instance at a time."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                held = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({JOBS_LOCK})").scalar()
                if not held:
                    return
            try:
                self._purge()
            finally:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({JOBS_LOCK})")
                    conn.commit()

    def enrolment_jobs(self) -> None:
        """Every instance: the boxes revoked meanwhile (by another instance, or the CLI) are
        refused from now on. Once a day: the CRL re-signed and stale requests purged."""
        if self.revocations is not None:
            self.revocations.refresh()
        enrolments = self.enrolments
        if enrolments is None:
            return
        now = utcnow()
        crl = enrolments.settings.crl_file
        try:
            age = now.timestamp() - crl.stat().st_mtime
        except FileNotFoundError:
            age = float("inf")
        if age >= CRL_EVERY_S:
            refresh_crl(self.engine, enrolments.ca, crl, days=enrolments.settings.crl_days)
            reload_broker(enrolments.settings.reload_broker)
            purged = enrolments.purge(now)
            log_event(log, logging.INFO, "fleet.crl_signed", purged=purged)

    def refresh_updates(self) -> list[str]:
        """Re-sign the update metadata that nears its end (a timestamp that stays fresh is how
        a box tells the repository is not frozen); the roles re-signed."""
        updates = self.config.updates
        if updates is None:
            return []
        repository = repository_of(updates)
        signed = repository.refresh(timestamp_always=False)
        if signed:
            log_event(log, logging.INFO, "updates.refreshed", roles=",".join(signed))
        # The root is signed with keys that may be offline: an operator renews it in time
        # (`centre updates rotate-root --keys 0`), or every box refuses updates once it ends.
        root = repository.status()[0]
        if root.expires - system_utcnow() < ROOT_WARN:
            log_event(log, logging.WARNING, "updates.root_expiring",
                      expires=root.expires.isoformat())  # fmt: skip
        return signed

    def link_health(self, _peer: str, up: bool, _why: str) -> None:
        """A link's worker thread: a link that comes up is a sync, and a sync checkpoints."""
        if up and self.log_rounds is not None:
            self.log_rounds.synced()

    def log_round(self) -> None:
        """The transparency log's upkeep (sync.tlog.rounds), on one instance at a time."""
        if self.log_rounds is None:
            return
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                held = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({TLOG_LOCK})").scalar()
                if not held:
                    return
            try:
                self.log_rounds.round()
            finally:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({TLOG_LOCK})")
                    conn.commit()

    def fleet_checks(self, notifier: AlertNotifier | None = None) -> None:
        """Boxes gone silent raise their alert (on one instance at a time); alerts not yet
        sent on go to the alert webhooks."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                held = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({FLEET_LOCK})").scalar()
                if not held:
                    return
            try:
                now = utcnow()
                check_silence(self.engine, self.config.fleet, now)
                if notifier is not None:
                    notifier.send_pending(now)
            finally:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({FLEET_LOCK})")
                    conn.commit()

    def _purge(self) -> None:
        keep = self.config.retention
        now = utcnow()
        records_before = now - dt.timedelta(days=keep.records_days)
        events_before = now - dt.timedelta(days=keep.events_days)
        with self.engine.begin() as conn:
            purged_events = conn.execute(
                delete(events).where(events.c.received_at < events_before)
            ).rowcount
            old = records.c.updated_at < records_before
            purged = conn.execute(delete(records).where(old)).rowcount
            conn.execute(delete(record_history).where(record_history.c.at < records_before))
            conn.execute(delete(record_routes).where(record_routes.c.at < records_before))
            conn.execute(delete(drop_files).where(drop_files.c.taken_at < records_before))
            # The console's audit and the review queue's decided items: as long as the records
            # they are about (a pending item waits for its operator, whatever its age).
            conn.execute(delete(console_audit).where(console_audit.c.at < records_before))
            decided = partner_review.c.decided_at < records_before
            conn.execute(delete(partner_review).where(decided))
            fleet = purge_fleet(conn, self.config.fleet, now)
            risk = purge_risk(conn, now - dt.timedelta(days=keep.risk_days))
        purge_sync_tables(
            self.engine, now=now, evidence_days=keep.records_days, dedupe_days=keep.records_days,
            quarantine_days=keep.records_days, events_days=keep.events_days,
        )  # fmt: skip
        if purged or purged_events or any(fleet.values()) or any(risk.values()):
            log_event(log, logging.INFO, "centre.purged", records=purged, events=purged_events,
                      fleet_history=fleet["history"], fleet_alerts=fleet["alerts"],
                      fleet_commands=fleet["commands"],
                      fleet_partner_revocations=fleet["partner_revocations"],
                      fleet_rollouts=fleet["rollouts"],
                      risk=" ".join(f"{table}={n}" for table, n in risk.items()))  # fmt: skip


def outbox_routes(config: CentreConfig) -> list[Route]:
    """Where the centre's outbox sends: a partner's centre through its link (CIE) or its
    bundles (SIE); this country's nodes through the broker."""
    return [*(Route(p.centre, _peer_of(p)) for p in config.partners), Route("*", BROKER_PEER)]


def _peer_of(partner: PartnerSection) -> str:
    return f"{partner.mode}-{partner.country}"


def _hold(relaying: Relaying, conn: Connection, partner: str, envelope: Envelope) -> None:
    """A SIE partner's record (or relayed exit confirmation, with its record) into the review
    queue: the envelope's signed content as it was verified on receipt."""
    payload = envelope.payload
    if isinstance(payload, RelayMessage):
        record = open_relayed(envelope, relaying.key_for, relaying.own_nodes.__contains__)[0]
        inner = record.payload
        assert isinstance(inner, ExitConfirmationMessage)
        manifest = inner.record
    else:
        assert isinstance(payload, ManifestMessage)
        manifest = payload.record
    hold(conn, partner, envelope.canonical_json(), manifest, message_id=envelope.id)


def _approved(desk: RecordDesk, conn: Connection, held: Held, relaying: Relaying) -> None:
    """An operator approved a held item: it takes effect as over a CIE link."""
    envelope = Envelope.model_validate(orjson.loads(held.envelope))
    apply_partner_message(desk, conn, envelope, relaying)


def _tls(api: ApiSection) -> dict[str, Any]:
    """uvicorn's TLS settings: none, server TLS, or mutual TLS with the clients' CA."""
    if api.tls_cert is None:
        return {}
    tls: dict[str, Any] = {"ssl_certfile": str(api.tls_cert), "ssl_keyfile": str(api.tls_key)}
    if api.client_ca is not None:
        tls |= {"ssl_ca_certs": str(api.client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return tls


def run_centre(config: CentreConfig) -> int:
    """Run until SIGTERM or Ctrl-C (the CLI turns SIGTERM into SystemExit)."""
    service = CentreService.build(config)
    try:
        service.start()
        systemd_notify.ready("serving")
        while not service.stop.wait(1.0):
            if service.database_answers():
                systemd_notify.watchdog()
    finally:
        systemd_notify.stopping()
        service.close()
    return 0
