"""The fleet agent inside `carec-edge run`: the twin_desired and command appliers it hands the
inbox, and its tasks: the health report every `[fleet] health_interval_s`, the twin's watch
(the restart a new configuration needs, its grace period, its rollback) and the commands'
execution (outside the inbox's transaction, one at a time). The rules live in
`provisioning.fleet`; this module collects, runs and restarts."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import platform
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.config import Config
from edge.logs import KeyValueFormatter, PersonalDataFilter, error_first_line, log_event
from edge.service.fleet_health import collect, connected_devices, device_figures, software_version
from edge.service.fleet_renewal import renew_when_due
from edge.service.fleet_update import BoxUpdater, order_of, systemctl_reboot
from edge.timeutil import system_utcnow, utcnow
from provisioning.fleet import config_file, diagnostics, key_rotation
from provisioning.fleet.commands import (
    CommandOutcome,
    Commands,
    PendingCommand,
    expired,
    refused_reboot,
    self_test,
    store_check,
)
from provisioning.fleet.health_report import build_health
from provisioning.fleet.revocation import revocation_applier
from provisioning.fleet.status import (
    HEALTH_SENT,
    FleetStatus,
    certificate_expiry,
    fleet_status,
    mark,
)
from provisioning.fleet.twin import (
    FleetSettings,
    TwinApplier,
    TwinReporter,
    TwinWatch,
    Verdict,
)
from provisioning.identity.trust import TrustStore
from sync.inbox import Applier
from sync.outbox import NoRouteError, Outbox
from sync.risk_profiles import risk_profiles_applier
from sync.setup import ExtraAppliers, TrustedKeys
from sync.status import OutboxStatus

if TYPE_CHECKING:
    from edge.service import EdgeService
    from ui_kiosk.models import FleetStatusView

log = logging.getLogger(__name__)

Job = Coroutine[Any, Any, None]
WATCH_EVERY_S = 1.0  # the twin's grace period is judged this often
COMMANDS_EVERY_S = 5.0  # pending commands are looked for at least this often
PURGE_EVERY_S = 3600.0
RECENT_LOG_LINES = 2000
# Actions whose success ends this process: the service restarts, or the host reboots.
REBOOTING = ("restart", "reboot", "update")


class RecentLines(logging.Handler):
    """The process's latest log lines, formatted and filtered as stderr's, for diagnostics."""

    def __init__(self, size: int = RECENT_LOG_LINES) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=size)
        self.setFormatter(KeyValueFormatter())
        self.addFilter(PersonalDataFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)


RECENT_LOGS = RecentLines()


def keep_recent_logs() -> None:
    """Keep the latest log lines for diagnostics (once a process, whatever restarts)."""
    root = logging.getLogger()
    if RECENT_LOGS not in root.handlers:
        root.addHandler(RECENT_LOGS)


def config_check(config: Config) -> list[str]:
    """What `carec-edge run` checks before it starts, for a twin's new file."""
    from edge.cli.preflight import config_problems

    return config_problems(config, data_dir=None)


def kiosk_view(status: FleetStatus) -> FleetStatusView:
    """The box's fleet status as the kiosk's technician panel takes it."""
    from ui_kiosk.models import FleetCommandView, FleetStatusView  # the web stack: when on

    return FleetStatusView(
        enrolled=status.enrolled,
        certificate_not_after=status.certificate_not_after,
        report_to=status.report_to,
        twin_desired_version=status.twin_desired_version,
        twin_applied_version=status.twin_applied_version,
        twin_state=status.twin_state,
        twin_errors=status.twin_errors,
        pending_commands=[
            FleetCommandView(
                command_id=c.command_id, action=c.action, state=c.state, received_at=c.received_at
            )
            for c in status.pending_commands
        ],
        last_health_at=status.last_health_at,
    )


def offline_appliers(config: Config, config_path: Path | None, engine: Engine) -> ExtraAppliers:
    """The fleet's appliers for `carec-edge sync import` (a file bundle, no link at all): a twin
    is written and a command recorded as the service would; the running service (if any)
    restarts on the new file or executes the command within seconds (its tasks look at the
    store), or at its next start. The devices connected before a twin are not known here: its
    rollback then rests on the service failing or the file not loading."""
    settings = FleetSettings(
        node_id=config.node.id, report_to=config.fleet.report_to,
        software_version=software_version(), config_path=config_path,
        grace_s=config.fleet.grace_s,
    )  # fmt: skip

    def make(outbox: Outbox, keys: TrustedKeys) -> Mapping[str, Applier]:
        issuers = {settings.report_to} if settings.report_to else set()
        return {
            "twin_desired": TwinApplier(
                TwinReporter(outbox, settings, tuple), check_config=config_check
            ),
            "command": Commands(engine, outbox, settings),
            "revocation": revocation_applier(keys, config.sync.trust_store, issuers),
            # the centre's risk profile rule sets (edge.risk_profiles): from report_to only
            "risk_profiles": risk_profiles_applier(settings.node_id, settings.report_to),
        }

    return make


class FleetAgent:
    def __init__(self, service: EdgeService, config_path: Path | None) -> None:
        self.service = service
        config = service.config
        self.settings = FleetSettings(
            node_id=config.node.id,
            report_to=config.fleet.report_to,
            software_version=software_version(),
            config_path=config_path,
            grace_s=config.fleet.grace_s,
        )
        self.outbox: Outbox | None = None
        self.keys: TrustedKeys | None = None
        self.commands: Commands | None = None
        self.reporter: TwinReporter | None = None
        self.watch: TwinWatch | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._no_route_logged = False

    # -- the inbox's side ----------------------------------------------------------------------

    def appliers(self, outbox: Outbox, keys: TrustedKeys) -> Mapping[str, Applier]:
        """For sync.setup.build_sync, on the store thread."""
        self.outbox, self.keys = outbox, keys
        self.reporter = TwinReporter(outbox, self.settings, self._connected)
        self.commands = Commands(self.service.engine, outbox, self.settings, self.wake)
        twin = TwinApplier(
            self.reporter,
            check_config=config_check,
            connected_devices=self._connected,
            on_applying=self.wake,
        )
        # The centre's revocations (provisioning.fleet.revocation): only report_to may revoke.
        issuers = {self.settings.report_to} if self.settings.report_to else set()
        revocation = revocation_applier(keys, self.service.config.sync.trust_store, issuers)
        # The centre's risk profile rule sets (edge.risk_profiles): from report_to only.
        profiles = risk_profiles_applier(self.settings.node_id, self.settings.report_to)
        return {
            "twin_desired": twin,
            "command": self.commands,
            "revocation": revocation,
            "risk_profiles": profiles,
        }

    def wake(self) -> None:
        """From any thread: something for the agent's tasks (after the inbox's commit)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _connected(self) -> list[str]:
        return connected_devices(self.service)

    def kiosk_view(self) -> FleetStatusView:
        """On the store thread: what the kiosk's technician sees (as `fleet status` shows)."""
        return kiosk_view(
            fleet_status(
                self.service.engine, self.service.config.sync.identity_dir, self.settings.report_to
            )
        )

    # -- the service's side --------------------------------------------------------------------

    async def start(self) -> None:
        """Once the store and sync are up: a twin written before this start begins its grace
        period; states not yet reported go out."""
        self._loop = asyncio.get_running_loop()
        keep_recent_logs()
        self.watch = TwinWatch(self.service.engine, self.settings)
        started = await self.service.in_store(self.watch.started, utcnow())
        for version in started:
            log_event(log, logging.INFO, "twin.watching", version=version)

    def tasks(self) -> dict[str, Job]:
        if self.outbox is None:
            return {}
        return {
            "fleet-health": self._report_health(),
            "fleet-twin": self._watch_twin(),
            "fleet-commands": self._run_commands(),
            "fleet-renewal": renew_when_due(self.service),
        }

    async def _report_health(self) -> None:
        if not self.settings.report_to:
            await asyncio.Event().wait()  # fleet management is off: idle until cancelled
            return
        while True:
            try:
                figures = await collect(self.service, model_version=self._model_version())
                message_id = await self.service.send(build_health(figures), self.settings.report_to)
                await self.service.in_store(mark, self.service.engine, HEALTH_SENT, figures.at)
                log_event(log, logging.DEBUG, "health.sent", message=message_id)
            except NoRouteError:
                if not self._no_route_logged:
                    log_event(log, logging.WARNING, "health.no_route", to=self.settings.report_to)
                    self._no_route_logged = True
            except (SQLAlchemyError, OSError, ValueError) as error:
                log_event(log, logging.ERROR, "health.failed", error=error_first_line(error))
            await asyncio.sleep(self.service.config.fleet.health_interval_s)

    def _model_version(self) -> str | None:
        """The plate models' version, where plate recognition runs (their 1.7 MB hashed once,
        by the first report)."""
        if not self.service.config.plates.enabled:
            return None
        from drivers.plates.model_version import plate_models_version

        return plate_models_version()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _watch_twin(self) -> None:
        assert self.watch is not None
        assert self.reporter is not None
        watch, reporter = self.watch, self.reporter
        while True:
            try:
                await self.service.in_store(reporter.report_pending, self.service.engine)
                if await self.service.in_store(watch.needs_restart):
                    self.service.restart("twin")
                    await asyncio.Event().wait()  # stopping: idle until cancelled
                verdict = await self.service.in_store(self._judge, watch)
                if verdict is not None:
                    await self.service.in_store(watch.settle, verdict, utcnow())
                    await self.service.in_store(reporter.report_pending, self.service.engine)
                    if verdict.state == "rolled_back":
                        self.service.restart("twin rolled back")
                        await asyncio.Event().wait()  # stopping: idle until cancelled
            except (SQLAlchemyError, OSError) as error:
                log_event(log, logging.ERROR, "twin.watch_failed", error=error_first_line(error))
            await self._pause(WATCH_EVERY_S)

    def _judge(self, watch: TwinWatch) -> Verdict | None:
        configured = [d.id for d in self.service.device_configs]
        return watch.judge(
            utcnow(), failing=None, connected=self._connected(), configured=configured
        )

    async def _run_commands(self) -> None:
        assert self.commands is not None
        commands = self.commands
        purged_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - purged_at >= PURGE_EVERY_S:
                    await self._purge()
                    purged_at = loop.time()
                for command in await self.service.in_store(commands.pending):
                    outcome = expired(command, utcnow()) or await self._execute(command)
                    then = None
                    if outcome.outcome == "done" and command.action in REBOOTING:
                        then = command.action
                    await self.service.in_store(commands.finish, command.command_id, outcome)
                    if then == "restart":
                        self.service.restart(f"command {command.command_id}")
                        await asyncio.Event().wait()  # stopping: idle until cancelled
                    if then == "reboot":
                        await self._reboot()
                    if then == "update":  # installed: the new slot boots, the self-test judges
                        await self._reboot_into_update()
            except SQLAlchemyError as error:
                log_event(log, logging.ERROR, "command.store_failed", error=error_first_line(error))
            await self._pause(COMMANDS_EVERY_S)

    async def _purge(self) -> None:
        assert self.commands is not None
        assert self.watch is not None
        days = self.service.config.retention.dedupe_days
        commands = await self.service.in_store(
            self.commands.purge, utcnow() - dt.timedelta(days=days)
        )
        twins = await self.service.in_store(self.watch.purge)
        if commands or twins:
            log_event(log, logging.INFO, "fleet.purged", commands=commands, twins=twins)

    # -- the actions ---------------------------------------------------------------------------

    async def _execute(self, command: PendingCommand) -> CommandOutcome:
        log_event(
            log, logging.INFO, "command.executing", command=command.command_id,
            action=command.action,
        )  # fmt: skip
        try:
            if command.action == "update":
                return await self._update(command)
            return await self._action(command.action)
        except Exception as error:  # an action that fails is reported, never fatal
            return CommandOutcome("failed", f"{type(error).__name__}: {error_first_line(error)}")

    async def _action(self, action: str) -> CommandOutcome:
        config = self.service.config
        if action == "restart":
            return CommandOutcome("done", "restarting the service")
        if action == "self_test":
            return await self._self_test()
        if action == "diagnostics":
            return await self._diagnostics()
        if action == "reload_trust":
            trust = await asyncio.to_thread(TrustStore.load, config.sync.trust_store)
            assert self.keys is not None
            self.keys.replace(trust)
            return CommandOutcome("done", f"trust store reloaded from {config.sync.trust_store}")
        if action == "rotate_key":
            pem = await asyncio.to_thread(
                key_rotation.start, config.sync.identity_dir, config.node.id
            )
            return CommandOutcome("done", pem.decode("ascii"))
        if action == "reboot":
            if not config.fleet.allow_reboot:
                return refused_reboot()
            return CommandOutcome("done", "rebooting the host")
        return CommandOutcome("refused", f"{action}: not an action this box knows")

    async def _self_test(self) -> CommandOutcome:
        store = await self.service.in_store(store_check, self.service.engine)
        extra = []
        enrolled, not_after, problem = certificate_expiry(self.service.config.sync.identity_dir)
        if problem:
            extra.append(f"certificate: {problem}")
        elif not enrolled:
            extra.append("certificate: none (not enrolled)")
        elif not_after is not None and not_after <= system_utcnow():  # X.509: the system clock
            extra.append(f"certificate: expired {not_after.isoformat()}")
        return self_test(device_figures(self.service), store, extra)

    async def _diagnostics(self) -> CommandOutcome:
        config = self.service.config
        path = self.settings.config_path
        data: dict[str, Any] = config.model_dump(mode="json")
        if path is not None:
            with contextlib.suppress(ValueError):
                data = await asyncio.to_thread(config_file.load_data, path)
        sync_status: dict[str, Any] = {"configured": self.outbox is not None}
        if self.outbox is not None:
            snapshot = await self.service.in_store(OutboxStatus(self.outbox).snapshot)
            sync_status |= dataclasses.asdict(snapshot)
            sync_status["peers"] = {
                name: link.connected.is_set() for name, link in self.service.links.items()
            }
        versions = {
            "carec-edge": software_version(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        }
        known: set[str] = set()
        after: int | None = 0
        while after is not None:  # a batch a store job: the lanes go on between two
            words, after = await self.service.in_store(
                diagnostics.known_personal_words, self.service.engine, after
            )
            known |= words
        encoded, lines = await asyncio.to_thread(
            functools.partial(diagnostics.bundle, known=known),
            list(RECENT_LOGS.lines), data, sync_status, versions,
        )  # fmt: skip
        return CommandOutcome(
            "done",
            f"diagnostics bundle: {lines} log lines, {len(encoded)} bytes (base64 gzip tar)",
            encoded,
        )

    async def _reboot(self) -> None:
        log_event(log, logging.WARNING, "host.rebooting")
        process = await asyncio.create_subprocess_exec("systemctl", "reboot")
        await process.wait()

    # -- updates (edge.service.fleet_update) ----------------------------------------------------

    async def _update(self, command: PendingCommand) -> CommandOutcome:
        order = order_of(dict(command.arguments))
        if order is None:
            return CommandOutcome("refused", "update: the command names no target")
        if not self.service.config.fleet.update_url:
            return CommandOutcome("failed", "update: no [fleet] update_url configured")
        return await asyncio.to_thread(self._updater().run, order)

    def _updater(self) -> BoxUpdater:
        from provisioning.update import rauc, tuf_client  # the update stack: when asked

        fleet = self.service.config.fleet
        source = tuf_client.centre_source(
            fleet.update_url, self.service.config.sync.identity_dir,
            Path(fleet.centre_ca_file) if fleet.centre_ca_file else None,
        )  # fmt: skip
        trust = tuf_client.BoxTrust.under(self.service.data_dir)

        def fetch(target: str, work_dir: Path) -> tuf_client.VerifiedTarget:
            return tuf_client.fetch_target(source, target, work_dir, trust=trust)

        def install(bundle: Path) -> None:
            rauc.install_bundle(bundle)

        return BoxUpdater(
            self.service.data_dir, self.service.data_dir / "update-download",
            fetch=fetch, install=install, reboot=systemctl_reboot,
        )  # fmt: skip

    async def _reboot_into_update(self) -> None:
        updater = self._updater()
        if not updater.needs_reboot():  # it already ran that bundle: nothing was installed
            return
        if not self.service.config.fleet.allow_reboot:
            # The new slot boots at the host's next start; the rollout waits for its report.
            log_event(log, logging.WARNING, "update.reboot_not_allowed")
            return
        log_event(log, logging.WARNING, "host.rebooting", reason="update")
        await asyncio.to_thread(updater.reboot)
