"""The box's configuration: one TOML file, validated into typed models that reject unknown keys.

Every section has defaults that suit a test or demo box, so an empty file is a valid config.
Every value is bounded to what the service can use (no NaN or infinity, intervals long enough
not to make a loop spin, sizes that fit the store), so a file that passes `config check` starts.
A hostile file is refused before tomllib sees it: too large, not UTF-8, nested too deep, or with
more dotted-key parts than any config has (tomllib's time and memory grow with their square).
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.manifest import field_path

DEFAULT_CONFIG_PATH = Path("/etc/carec-edge/carec-edge.toml")
DEFAULT_DATA_DIR = Path("/var/lib/carec-edge")

# A config is a few KB; this leaves room for comments and many devices.
MAX_CONFIG_BYTES = 1 << 20
# Arrays and tables nest a few levels in a config; tomllib recurses on each and would raise
# RecursionError near a thousand.
MAX_NESTING = 32
# Dots outside strings and comments (dotted keys, table names, decimals); a config has dozens.
MAX_DOTS = 2000


def _no_nul(value: object) -> object:
    if isinstance(value, str) and (not value or "\0" in value):
        raise ValueError("a path must be non-empty and hold no NUL character")
    return value


# A path as the OS takes it: Path("") would be the working directory, and every system call
# refuses a NUL.
ConfigPath = Annotated[Path, BeforeValidator(_no_nul)]


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{value!r} is not a time zone such as Asia/Almaty") from None
    return value


TimeZone = Annotated[str, AfterValidator(_time_zone)]


_M = TypeVar("_M", bound=BaseModel)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NodeConfig(_Section):
    id: Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]+-[0-9]+$")] = "KZ-DEMO-1"


class StoreConfig(_Section):
    data_dir: ConfigPath = DEFAULT_DATA_DIR
    # Records expected more than this many days ago are purged.
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30


class MatchingConfig(_Section):
    # The arrival window around a record's expected arrival, in hours.
    early_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 12.0
    late_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 48.0
    # Candidates scoring below this are not shown.
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.35
    max_candidates: Annotated[int, Field(ge=1, le=50)] = 5


class LoggingConfig(_Section):
    level: Annotated[str, Field(pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")] = "INFO"


class ServiceConfig(_Section):
    # How often the service purges expired records, in minutes (more often would only spin).
    purge_interval_minutes: Annotated[float, Field(ge=1, le=24 * 60)] = 60.0


class LanesConfig(_Section):
    # An arrival nothing has happened to for this long is closed as timed out.
    idle_timeout_minutes: Annotated[float, Field(ge=1, le=24 * 60)] = 30.0
    # The lane of devices that name none.
    default_lane: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] = "1"


class PeerConfig(_Section):
    """One broker this box exchanges messages through: the CIS's, or the partner post's."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(gt=0, lt=65536)] = 8883
    # The CA that signed the broker's certificate; the box's own certificate and key come from
    # sync.identity_dir unless given here.
    ca_file: ConfigPath
    cert_file: ConfigPath | None = None
    key_file: ConfigPath | None = None
    # Which destinations this broker carries (patterns such as "KZ-CIS" or "KG-*").
    destinations: Annotated[list[str], Field(min_length=1)]
    receive: bool = True  # take what is addressed to this box from this broker too
    max_bytes_per_s: Annotated[int, Field(ge=0, le=10**12)] = 0  # 0: no cap
    window: Annotated[int, Field(ge=1, le=65535)] = 256  # messages in flight at most


# A node or CIS id (KZ-NURZHOLY-1, KZ-CIS), as sync.messages.party_id_error checks it on the wire.
PartyName = Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z][A-Z0-9]{0,31}(?:-[1-9][0-9]{0,3})?$")]


class TransparencyConfig(_Section):
    """The node's transparency log (sync.tlog): whom it shows its checkpoints to, whom it
    reports to, how often it signs one, and how long its entries are kept."""

    # False only to measure what the log costs (tests/bench/bench_sync.py): nothing is logged,
    # no checkpoint is signed, and the witnesses see none.
    enabled: bool = True
    # Nodes that witness this node's log: each is sent every checkpoint with a consistency
    # proof and returns its cosignature (a box: its centre and the partner post).
    witnesses: list[PartyName] = Field(default_factory=list)
    # Centres told of every cosignature this node makes as a witness (so they can compare
    # what a log showed each witness) and sent every alert it raises.
    report_to: list[PartyName] = Field(default_factory=list)
    # On a box: its centre ([fleet] report_to) is one of the witnesses and of report_to too.
    witnessed_by_centre: bool = True
    # A checkpoint at least this often while entries arrive (and one at every sync).
    checkpoint_every_s: Annotated[float, Field(ge=1, le=24 * 3600)] = 300.0
    # Entries, checkpoints and cosignatures are kept this long (the legal retention of the
    # records they prove); the tree's tiles, 32 bytes an entry, are kept for good.
    retention_days: Annotated[int, Field(ge=1, le=100 * 366)] = 5 * 366

    @field_validator("witnesses", "report_to")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        if len(value) != len(set(value)):
            raise ValueError("a node is listed twice")
        return value


class SyncConfig(_Section):
    # This box's key (node.key) and certificate (node.crt), made by `carec-edge identity init`.
    identity_dir: ConfigPath = Path("/var/lib/carec-edge/identity")
    # Whom to believe: fleet CAs by country, pinned keys, revocations (see provisioning/identity).
    trust_store: ConfigPath = Path("/etc/carec-edge/trust.toml")
    telemetry_cap: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000
    telemetry_ttl_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 6.0
    # A message the broker took but the receiver has not acknowledged is sent again after this.
    redeliver_after_s: Annotated[float, Field(ge=1, le=24 * 3600)] = 60.0
    # A stream's messages parked behind a gap are applied anyway after this (the gap counted).
    gap_timeout_s: Annotated[float, Field(ge=1, le=7 * 24 * 3600)] = 600.0
    # Where a decision goes (the national system), and where an exit confirmation of a truck
    # released here goes (the partner country's entry post): node ids, none to send nothing.
    decisions_to: list[str] = Field(default_factory=list)
    exit_confirmations_to: list[str] = Field(default_factory=list)
    peers: list[PeerConfig] = Field(default_factory=list)  # none: sync is off
    transparency: TransparencyConfig = TransparencyConfig()


class KioskConfig(_Section):
    """The officer's screen, served by `carec-edge run` for the box's own browser."""

    enabled: bool = True
    host: str = "127.0.0.1"  # loopback: the kiosk's Chromium runs on the box
    port: Annotated[int, Field(gt=0, lt=65536)] = 8080
    idle_timeout_minutes: Annotated[float, Field(ge=0.5, le=1440)] = 10.0
    timezone: TimeZone = "UTC"  # times are stored in UTC and shown in the post's zone
    default_language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "en"


class PlatesConfig(_Section):
    """Plate recognition of the lane cameras' frames, in a worker process."""

    enabled: bool = True
    # Plates are found by the plate detector and read in a window each; false: the text
    # detector searches every whole frame (slower; the pipeline before the plate detector).
    plate_detector: bool = True
    # The frame's long side is scaled to this for text detection (pixels) ...
    detector_side: Annotated[int, Field(ge=320, le=2048)] = 640
    # ... and searched again at this size when nothing plate-like was read (0: never).
    second_pass_side: Annotated[int, Field(ge=0, le=4096)] = 1024
    # Frames of one camera further apart than this belong to different vehicles.
    vehicle_gap_s: Annotated[float, Field(ge=0.1, le=600)] = 4.0


# Customs record-keeping in the corridor: the Customs Code of the Customs Union (2009, the
# EAEU's predecessor, art. 98(5)) has customs authorities keep the documents of customs control
# for five years; the box keeps decisions and the arrivals they rest on at least that long.
# 1827 days: five years with their leap day.
EVIDENCE_LEGAL_MINIMUM_DAYS = 1827


class RetentionConfig(_Section):
    """How long each table keeps its rows, and the bounds of the crop store, disk and queues."""

    # Evidence: decisions and the arrivals (with their readings) they were taken on, counted
    # from the latest decision. Never below the legal minimum.
    evidence_days: Annotated[int, Field(le=36_500)] = EVIDENCE_LEGAL_MINIMUM_DAYS
    # Arrivals nobody decided on (timed out, superseded) and their readings, from their closing.
    undecided_arrival_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Plate crops (files under <data_dir>/crops): at most this old, and within the quota,
    # oldest first out. They show the officer the plate; the reading's text is the evidence.
    crop_days: Annotated[int, Field(ge=1, le=3650)] = 30
    crop_quota_mb: Annotated[int, Field(ge=1, le=1_000_000)] = 2048
    # Sync: the inbox's applied-once ids, quarantined messages, events from other nodes, and
    # what the outbox delivered (its evidence kept as long as evidence is).
    # At least 15 (sync.retention.MIN_DEDUPE_DAYS): a week of broker session and two of an
    # operational message's age, so that no redelivery is applied twice.
    dedupe_days: Annotated[int, Field(ge=15, le=3650)] = 30
    quarantine_days: Annotated[int, Field(ge=1, le=3650)] = 90
    peer_events_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Free space on the data directory's disk: below the first the box's health is degraded,
    # below the second it sheds telemetry, then crops (oldest first), never evidence.
    disk_degraded_below_mb: Annotated[int, Field(ge=1, le=10_000_000)] = 4096
    disk_shed_below_mb: Annotated[int, Field(ge=1, le=10_000_000)] = 2048
    disk_check_interval_s: Annotated[float, Field(ge=1, le=86_400)] = 60.0
    # Readings waiting for the store thread; beyond this a reading is refused and counted.
    readings_queue: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000

    @field_validator("evidence_days")
    @classmethod
    def _at_least_the_legal_minimum(cls, days: int) -> int:
        if days < EVIDENCE_LEGAL_MINIMUM_DAYS:
            raise ValueError(
                f"customs evidence is kept at least {EVIDENCE_LEGAL_MINIMUM_DAYS} days (five"
                " years, the corridor's record-keeping minimum); a shorter retention is refused"
            )
        return days

    @model_validator(mode="after")
    def _shed_below_degraded(self) -> RetentionConfig:
        if self.disk_shed_below_mb > self.disk_degraded_below_mb:
            raise ValueError(
                f"disk_shed_below_mb ({self.disk_shed_below_mb}) must not exceed"
                f" disk_degraded_below_mb ({self.disk_degraded_below_mb}): the box turns"
                " degraded before it sheds"
            )
        return self


class FleetConfig(_Section):
    """Fleet management (provisioning.fleet): health reports to the country's centre, the
    centre's configuration changes (twin) and commands."""

    # The centre's node id this box reports to and takes twin changes and commands from (such
    # as "KZ-CIS"); empty: no health reports, and twin changes and commands are refused.
    report_to: Annotated[
        str, Field(pattern=r"^(?:[A-Z]{2}-[A-Z][A-Z0-9]{0,31}(?:-[1-9][0-9]{0,3})?)?$")
    ] = ""
    health_interval_s: Annotated[float, Field(ge=5, le=3600)] = 30.0
    # The grace period after a twin change (seconds) during which a failing health rolls it
    # back; 0: the centre's own (its twin_desired's grace_s). Longer for slow devices.
    grace_s: Annotated[int, Field(ge=0, le=24 * 3600)] = 0
    # `reboot` commands run `systemctl reboot` only where this is true.
    allow_reboot: bool = False
    # The centre's enrolment API (`carec-edge fleet enrol` writes it): the box renews its
    # certificate there, without a visit, once it ends within renew_within_days, and completes a
    # key rotation. Empty: no renewal by the service (`carec-edge fleet renew` by hand).
    centre_url: Annotated[str, Field(pattern=r"^(?:https?://[^\s]+)?$")] = ""
    # The CA of the centre's HTTPS certificate (a file); empty: the system's CAs.
    centre_ca_file: Annotated[str, Field(pattern=r"^[^\x00]*$")] = ""
    serial: Annotated[str, Field(max_length=64)] = ""  # the serial enrolled; empty: the board's
    renew_within_days: Annotated[int, Field(ge=1, le=3650)] = 30
    renew_check_hours: Annotated[float, Field(ge=0.01, le=24 * 30)] = 12.0
    # The centre's update repository (TUF metadata and bundles, over mTLS with the box's
    # identity), e.g. https://centre.kz.example:8445/updates/v1; empty: `update` commands fail.
    update_url: Annotated[str, Field(pattern=r"^(?:https://[^\s]+)?$")] = ""


class Config(_Section):
    node: NodeConfig = NodeConfig()
    store: StoreConfig = StoreConfig()
    matching: MatchingConfig = MatchingConfig()
    logging: LoggingConfig = LoggingConfig()
    service: ServiceConfig = ServiceConfig()
    lanes: LanesConfig = LanesConfig()
    sync: SyncConfig = SyncConfig()
    kiosk: KioskConfig = KioskConfig()
    plates: PlatesConfig = PlatesConfig()
    retention: RetentionConfig = RetentionConfig()
    fleet: FleetConfig = FleetConfig()
    # [[devices]] tables. Each is checked against its kind's model by the drivers' registry
    # when the service or `config check` loads the file (the core cannot know driver models).
    devices: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _centre_witnesses(cls, data: Any) -> Any:
        """A box's centre ([fleet] report_to) witnesses its transparency log and hears what it
        cosigns as a witness, besides the nodes [sync.transparency] lists, unless its
        `witnessed_by_centre` is false."""
        if not isinstance(data, dict):
            return data
        fleet, sync = data.get("fleet"), data.get("sync", {})
        centre = fleet.get("report_to") if isinstance(fleet, dict) else None
        if not centre or not isinstance(centre, str) or not isinstance(sync, dict):
            return data
        log = sync.get("transparency", {})
        if not isinstance(log, dict) or log.get("witnessed_by_centre", True) is False:
            return data
        added = {}
        for key in ("witnesses", "report_to"):
            listed = log.get(key, [])
            if isinstance(listed, list) and centre not in listed:
                added[key] = [*listed, centre]
        return {**data, "sync": {**sync, "transparency": {**log, **added}}}


class ConfigError(ValueError):
    """A config file that cannot be used, with one `key: what is expected` line per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def _problem(item: dict[str, object]) -> str:
    loc = item["loc"]
    key = field_path(loc) if isinstance(loc, tuple) else str(loc)
    kind = item["type"]
    if kind == "extra_forbidden":
        section = key.rsplit(".", 1)[0] if "." in key else None
        where = f"section [{section}]" if section else "the top level"
        return f"{key}: unknown key in {where}; check the spelling against the README"
    return f"{key}: {str(item['msg']).removeprefix('Value error, ')} (got {item.get('input')!r})"


# What tomllib skips over: strings of each kind, and comments.
_STRINGS_AND_COMMENTS = re.compile(
    "|".join(
        # An unclosed string runs to its end (of line or file): scanning from each of its
        # characters again would take quadratic time.
        (
            r'"""[\s\S]*?(?:"""|\Z)',
            r"'''[\s\S]*?(?:'''|\Z)",
            r'"(?:[^"\\\n]|\\.)*"?',
            r"'[^'\n]*'?",
            r"#[^\n]*",
        )
    )
)
_BRACKETS = re.compile(r"[\[\]{}]")


def shape_problem(text: str) -> str | None:
    """Why `text` is too deep or too dotted to hand to tomllib, or None. Counted outside
    strings and comments, in one pass each: the counts are at least what tomllib would meet."""
    bare = _STRINGS_AND_COMMENTS.sub('""', text)
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(bare):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        return f"nested {deepest} levels deep; at most {MAX_NESTING} allowed"
    if (dots := bare.count(".")) > MAX_DOTS:
        return f"{dots} dots in keys and values; at most {MAX_DOTS} allowed"
    return None


def parse_config(text: str, path: Path) -> Config:
    return parse_toml_model(text, path, Config)


def parse_toml_model(text: str, path: Path, model: type[_M]) -> _M:
    """`text` as `model` (the box's Config, the centre's), or ConfigError with one line per
    problem: the same guards and messages for every configuration file of the project."""
    if problem := shape_problem(text):
        raise ConfigError(path, [f"not a config file: {problem}"])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, [f"not valid TOML: {error}"]) from None
    except RecursionError:  # the shape check should have refused it; never a traceback
        raise ConfigError(path, ["not a config file: nested too deep"]) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [_problem(dict(item)) for item in error.errors(include_url=False)]
        raise ConfigError(path, problems) from None


def load_config(path: Path | None) -> Config:
    """The config in `path`; with no path, the default file if it exists, else the defaults."""
    if path is None:
        if not DEFAULT_CONFIG_PATH.exists():
            return Config()
        path = DEFAULT_CONFIG_PATH
    return parse_toml_model(read_config_text(path), path, Config)


def read_config_text(path: Path) -> str:
    """A config file's text, or ConfigError: unreadable, too large, not UTF-8."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)  # /dev/zero or a huge file: read no more
    except OSError as error:
        raise ConfigError(path, [f"cannot read: {error.strerror or error}"]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(path, [f"larger than {MAX_CONFIG_BYTES} bytes; a config is a few KB"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            path, [f"not UTF-8 text (byte {error.start}); save it as UTF-8"]
        ) from None
    return text
