"""The centre's configuration: one TOML file (`image/carec-centre.toml` is the example),
validated into typed models that reject unknown keys, with the box's guards and messages."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.config import ConfigPath, TransparencyConfig, parse_toml_model, read_config_text
from edge.manifest import OfficeCode
from sync.messages import party_id_error
from sync.topics import validate_country

DEFAULT_CENTRE_CONFIG = Path("/etc/carec-edge/carec-centre.toml")


def _party(value: str) -> str:
    error = party_id_error(value)
    if error:
        raise ValueError(error)
    return value


PartyId = Annotated[str, AfterValidator(_party)]
Country = Annotated[str, AfterValidator(validate_country)]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# The console's languages (centre.console.i18n): code -> name in that language.
CONSOLE_LANGUAGES = {"en": "English", "ru": "Русский"}
_LANGUAGE_PATTERN = "^(" + "|".join(CONSOLE_LANGUAGES) + ")$"


class ConsoleSettings(_Section):
    """[console]: the operators' web console (centre.console)."""

    # Where the console listens: loopback by default (a reverse proxy with TLS in front), or
    # with its own TLS (tls_cert and tls_key).
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, lt=65536)] = 8444
    tls_cert: ConfigPath | None = None
    tls_key: ConfigPath | None = None
    # Host names the console answers to besides host, 127.0.0.1 and localhost.
    allowed_hosts: list[str] = Field(default_factory=list)
    # A session without a request for this long ends.
    idle_timeout_minutes: Annotated[float, Field(ge=1, le=24 * 60)] = 30.0
    default_language: Annotated[str, Field(pattern="^(" + "|".join(CONSOLE_LANGUAGES) + ")$")] = (
        "en"
    )
    # Session cookies sent over HTTPS only. Set false only for plain HTTP on loopback (demo).
    cookie_secure: bool = True
    # After this many failed logins in a row, a login is refused for lockout_minutes.
    max_login_failures: Annotated[int, Field(ge=1, le=100)] = 5
    lockout_minutes: Annotated[float, Field(ge=0.1, le=24 * 60)] = 10.0

    @model_validator(mode="after")
    def _tls_pair(self) -> ConsoleSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self


class CentreSection(_Section):
    # The centre's node id, the signer of every record it routes: <country>-<name>, e.g. KZ-CIS.
    id: PartyId = "KZ-CIS"
    # sqlite:///path (the default, nothing to install) or postgresql+psycopg://user@host/db.
    database: Annotated[str, Field(min_length=1)] = "sqlite:////var/lib/carec-centre/centre.sqlite3"
    # This instance's name in logs and in the broker's client id (several share one database).
    instance: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")] = "1"

    @property
    def country(self) -> str:
        return self.id[:2]


class IdentitySection(_Section):
    # The centre's key (node.key) and certificate (node.crt), as a box's.
    identity_dir: ConfigPath = Path("/var/lib/carec-centre/identity")
    trust_store: ConfigPath = Path("/etc/carec-edge/trust.toml")


class BrokerSection(_Section):
    """The country's broker, where the boxes publish to the centre."""

    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 8883
    ca_file: ConfigPath = Path("/etc/carec-edge/broker-ca.pem")
    # The MQTT 5 shared subscription group: instances of one centre share its messages.
    shared_group: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")] = "centre"
    redeliver_after_s: Annotated[float, Field(ge=1, le=24 * 3600)] = 60.0
    gap_timeout_s: Annotated[float, Field(ge=1, le=7 * 24 * 3600)] = 600.0
    # How long the broker keeps an instance's session while it is away. mosquitto goes on
    # handing an absent instance its share of the boxes' messages until then, and they reach
    # the centre only when the boxes send them again (after redeliver_after_s, half each time).
    # 0: an instance that goes is out of the group at once; what it held comes back from the
    # boxes' outboxes. Raise it only for a single instance that should find its queue after a
    # restart.
    session_expiry_s: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] = 0


class ApiClient(_Section):
    """One system allowed to call the API: it submits only its own country's records."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    country: Country
    # SHA-256 (hex) of the client's bearer token: the file never holds the token itself.
    # `carec-edge centre token` prints a new token and its hash.
    token_sha256: Annotated[str, Field(pattern=_SHA256.pattern)]


class ApiSection(_Section):
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, lt=65536)] = 8443
    # TLS for the API: with client_ca, clients must present a certificate signed by it, and
    # its common name must be a client's name (mutual TLS as well as the token).
    tls_cert: ConfigPath | None = None
    tls_key: ConfigPath | None = None
    client_ca: ConfigPath | None = None
    clients: list[ApiClient] = Field(default_factory=list)
    # One request carries at most this many records.
    max_records_per_request: Annotated[int, Field(ge=1, le=100_000)] = 1000

    @model_validator(mode="after")
    def _tls_pairs(self) -> ApiSection:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.client_ca is not None and self.tls_cert is None:
            raise ValueError("client_ca (mutual TLS) needs tls_cert and tls_key")
        names = [c.name for c in self.clients]
        if len(names) != len(set(names)):
            raise ValueError("clients: two clients share one name")
        return self


class DropSection(_Section):
    """The drop directory many CIS use (an SFTP drop): files in incoming/, moved to done/ or
    failed/ with a report beside each."""

    directory: ConfigPath | None = None  # none: no drop directory
    # The country whose CIS drops here: records of another issuer are refused.
    poll_s: Annotated[float, Field(ge=0.2, le=3600)] = 5.0


class PartnerSection(_Section):
    """A partner country's centre and how the two exchange (per link):
    - `cie`: real time, automatic, both ways, over the partner's broker (host, port, ca_file);
    - `sie`: signed file bundles, written to `bundle_out` on a schedule (or by hand) and read
      from `bundle_in`; every incoming record waits in the review queue for an operator."""

    country: Country
    centre: PartyId  # the partner centre's node id, e.g. KG-CIS
    mode: Literal["cie", "sie"]
    host: Annotated[str, Field(min_length=1)] | None = None
    port: Annotated[int, Field(gt=0, lt=65536)] = 8883
    ca_file: ConfigPath | None = None
    bundle_out: ConfigPath | None = None
    bundle_in: ConfigPath | None = None
    bundle_every_minutes: Annotated[float, Field(ge=0.05, le=7 * 1440)] = 60.0

    @model_validator(mode="after")
    def _what_the_mode_needs(self) -> PartnerSection:
        if self.centre[:2] != self.country:
            raise ValueError(f"centre {self.centre} is not of {self.country}")
        if self.mode == "cie" and (self.host is None or self.ca_file is None):
            raise ValueError("a cie link needs host and ca_file (the partner's broker)")
        if self.mode == "sie" and (self.bundle_out is None or self.bundle_in is None):
            raise ValueError("a sie link needs bundle_out and bundle_in (directories)")
        return self


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{value!r} is not an http:// or https:// URL, e.g. https://cis.example/carec/events"
        )
    if parts.username or parts.password:
        raise ValueError("no credentials in the URL: the signature authenticates the centre")
    return value


class WebhookSection(_Section):
    """[[webhooks]]: a URL of the CIS that takes the boxes' events (centre.webhooks), signed with
    the key in secret_file, in batches, retried with a backoff until it answers 2xx."""

    # The target's name in logs and in its cursor row; renaming it starts the feed over.
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    url: Annotated[str, AfterValidator(_http_url)]
    # A file holding the HMAC key (at least 16 bytes), never the key itself in the config;
    # e.g. `openssl rand -hex 32 > /etc/carec-edge/webhook-cis.key`.
    secret_file: ConfigPath
    types: tuple[Literal["arrival", "decision", "exit_confirmation"], ...] = (
        "arrival", "decision", "exit_confirmation",
    )  # fmt: skip
    batch: Annotated[int, Field(ge=1, le=1000)] = 100
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_backoff_s: Annotated[float, Field(ge=1, le=24 * 3600)] = 600.0

    @field_validator("types")
    @classmethod
    def _some_types_once_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("empty: list the event types to send, or leave types out for all")
        if len(set(value)) != len(value):
            raise ValueError("a type is listed twice")
        return value


class RetentionSection(_Section):
    # Records expected (or cancelled) this many days ago, and their history, are purged.
    records_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # The events feed keeps this many days for the CIS to read, and the analytics count them:
    # 62 covers last month whole for its monthly report (centre.analytics).
    events_days: Annotated[int, Field(ge=1, le=3650)] = 62
    # Risk profile set versions issued, the checks' results the boxes reported (the hit rates'
    # history) and the link modes confirmed; what is in force stays whatever its age.
    risk_days: Annotated[int, Field(ge=1, le=36500)] = 1830
    purge_interval_minutes: Annotated[float, Field(ge=1, le=1440)] = 60.0


class AlertWebhookSection(_Section):
    """[[fleet.alert_webhooks]]: where the fleet's alerts are sent on (a pager, a ticket system):
    each raised or cleared alert POSTed as JSON, signed as [[webhooks]] are
    (`X-Carec-Signature: sha256=<HMAC of the body>` with the key in secret_file)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    url: Annotated[str, AfterValidator(_http_url)]
    secret_file: ConfigPath
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0


class BoxPeerSection(_Section):
    """[[fleet.enrolment.box_peers]]: a broker an enrolled box exchanges through, as its
    [[sync.peers]] entry (the box adds its CA bundle as ca_file)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(gt=0, lt=65536)] = 8883
    destinations: Annotated[list[str], Field(min_length=1)]


class EnrolmentSection(_Section):
    """[fleet.enrolment] (centre.fleet.enrolment): boxes ask to join over the API
    (/fleet/v1/enrolment) and the country's CA in ca_dir issues their certificates."""

    # The country's fleet CA (ca.key and ca.crt, `carec-edge ca init`); keep it on this host only.
    ca_dir: ConfigPath
    # The CRL the broker reads (its listener's crlfile); default: crl.pem in ca_dir.
    crl_file: ConfigPath | None = None
    # A CRL is re-signed each day and valid this long (the broker refuses every client once it
    # has expired: OpenSSL's CRL check).
    crl_days: Annotated[int, Field(ge=2, le=365)] = 30
    # Run after each CRL is written (a revocation, the daily re-signing), so that the broker
    # reads it: mosquitto rereads crlfile on SIGHUP only, e.g. ["systemctl", "reload",
    # "mosquitto"]. Empty: reload the broker yourself after a revocation.
    reload_broker: Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=32)] = (
        Field(default_factory=list)
    )
    # A box's certificate is valid this long; the box renews it within renew_within_days of its
    # end, without an operator.
    box_certificate_days: Annotated[int, Field(ge=2, le=3650)] = 365
    renew_within_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # At most this many boxes wait for an operator; a request waits at most pending_days.
    max_pending: Annotated[int, Field(ge=1, le=100_000)] = 1000
    pending_days: Annotated[int, Field(ge=1, le=365)] = 30
    # Requests per minute from one address (every serial behind it) and for one serial.
    per_address_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 120
    per_serial_per_minute: Annotated[int, Field(ge=1, le=1000)] = 20
    box_peers: list[BoxPeerSection] = Field(default_factory=list)
    # Where enrolled boxes fetch updates ([updates] port's listener, as the boxes reach it),
    # e.g. "https://centre.kz.example:8445/updates/v1"; written into each box's [fleet]
    # update_url at enrolment. Empty: the boxes' installer sets it.
    update_url: Annotated[str, Field(pattern=r"^(?:https://[^\s]+)?$", max_length=500)] = ""

    @model_validator(mode="after")
    def _renew_before_the_end(self) -> EnrolmentSection:
        if self.renew_within_days >= self.box_certificate_days:
            raise ValueError("renew_within_days must be shorter than box_certificate_days")
        return self

    @property
    def crl_path(self) -> Path:
        return self.crl_file or self.ca_dir / "crl.pem"


class FleetSection(_Section):
    """[fleet]: the fleet service (centre.fleet): when a box's report raises an alert, how long
    its health history and finished items are kept, and where alerts are sent on."""

    # A box with no health report for this long is "silent" (an alert; grey in the console).
    silent_minutes: Annotated[float, Field(ge=1, le=7 * 1440)] = 5.0
    disk_used_pct: Annotated[float, Field(gt=0, le=100)] = 90.0
    clock_offset_ms: Annotated[float, Field(gt=0, le=3_600_000)] = 2000.0
    certificate_days: Annotated[int, Field(ge=1, le=3650)] = 30
    unsent_evidence_s: Annotated[int, Field(ge=60, le=30 * 86_400)] = 3600
    # Health history: 5-minute buckets for the last days, hourly buckets for longer.
    history_300s_days: Annotated[int, Field(ge=1, le=365)] = 2
    history_3600s_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Cleared alerts and finished (or long expired) commands are kept this long.
    alerts_days: Annotated[int, Field(ge=1, le=3650)] = 90
    commands_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Update rollouts (centre.updates): a box commanded and silent this long counts as failed
    # (a rollout may set its own); a finished rollout is kept this long, with its boxes.
    rollout_box_timeout_minutes: Annotated[int, Field(ge=5, le=7 * 1440)] = 120
    rollouts_days: Annotated[int, Field(ge=1, le=3650)] = 365
    # How often the silence check runs and alerts are sent on.
    check_every_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    alert_webhooks: list[AlertWebhookSection] = Field(default_factory=list)
    # Enrolment of new boxes (centre.fleet.enrolment); none: boxes are not enrolled here.
    enrolment: EnrolmentSection | None = None

    @model_validator(mode="after")
    def _distinct_names(self) -> FleetSection:
        names = [w.name for w in self.alert_webhooks]
        if len(names) != len(set(names)):
            raise ValueError("alert_webhooks: two entries share one name")
        return self


class UpdatesSection(_Section):
    """[updates] (centre.updates): the TUF repository of update bundles (`carec-edge centre
    updates init`), its periodic re-signing, and the listener the boxes fetch it from."""

    repository: ConfigPath = Path("/var/lib/carec-centre/updates/repository")
    # The role keys (0600 files); the root's may be taken offline after init.
    keys_dir: ConfigPath = Path("/var/lib/carec-centre/updates/keys")
    # How often the service checks the metadata: timestamp (and snapshot, targets) re-signed
    # once less than half their validity remains, so a box can tell a frozen repository.
    refresh_every_s: Annotated[float, Field(ge=10, le=6 * 3600)] = 600.0
    # How long each role's metadata is valid once signed.
    root_days: Annotated[float, Field(ge=1, le=3650)] = 365
    targets_days: Annotated[float, Field(ge=1, le=3650)] = 90
    snapshot_days: Annotated[float, Field(ge=1, le=365)] = 14
    timestamp_days: Annotated[float, Field(gt=0, le=30)] = 1
    # The boxes' listener: HTTPS where each box shows its own certificate (mutual TLS against
    # client_ca, the fleet CA that issued the boxes' certificates). None: not served (USB only).
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, lt=65536)] | None = None
    tls_cert: ConfigPath | None = None
    tls_key: ConfigPath | None = None
    client_ca: ConfigPath | None = None

    @model_validator(mode="after")
    def _coherent(self) -> UpdatesSection:
        if self.port is not None and None in (self.tls_cert, self.tls_key, self.client_ca):
            raise ValueError("port (serving the boxes) needs tls_cert, tls_key and client_ca")
        if self.refresh_every_s > self.timestamp_days * 86_400 / 4:
            raise ValueError("refresh_every_s must be under a quarter of timestamp_days")
        if not self.timestamp_days <= self.snapshot_days <= self.targets_days:
            raise ValueError("need timestamp_days <= snapshot_days <= targets_days")
        return self


class CentreConfig(_Section):
    centre: CentreSection = CentreSection()
    identity: IdentitySection = IdentitySection()
    broker: BrokerSection | None = None  # none: no boxes reached (API and files only)
    api: ApiSection = ApiSection()
    drop: DropSection = DropSection()
    # Customs office code -> the boxes there, e.g. KZ0001 = ["KZ-NURZHOLY-1"].
    routing: dict[OfficeCode, list[PartyId]] = Field(default_factory=dict)
    # [[partners]]: one per partner country's centre.
    partners: list[PartnerSection] = Field(default_factory=list)
    # [[webhooks]]: where the boxes' events are pushed to the CIS (besides the API's feed).
    webhooks: list[WebhookSection] = Field(default_factory=list)
    # The operators' web console (centre.console); none: no console.
    console: ConsoleSettings | None = None
    retention: RetentionSection = RetentionSection()
    fleet: FleetSection = FleetSection()
    # Update metadata (TUF) for the boxes (centre.updates); none: no updates published here.
    updates: UpdatesSection | None = None
    # The centre's transparency log (sync.tlog): its witnesses (partner centres), whom it
    # reports to, its checkpoints' cadence and its retention.
    transparency: TransparencyConfig = TransparencyConfig()

    @model_validator(mode="after")
    def _coherent(self) -> CentreConfig:
        country = self.centre.country
        for client in self.api.clients:
            if client.country != country:
                raise ValueError(
                    f"api.clients: {client.name} is of {client.country}, not {country}"
                )
        names = [w.name for w in self.webhooks]
        if len(names) != len(set(names)):
            raise ValueError("webhooks: two entries share one name (each has its own cursor)")
        seen = [p.country for p in self.partners]
        if len(seen) != len(set(seen)) or country in seen:
            raise ValueError("partners: one link per partner country, none to this centre's own")
        for office, nodes in self.routing.items():
            if office[:2] != country or any(node[:2] != country for node in nodes):
                raise ValueError(
                    f"routing.{office}: only {country}'s offices and boxes; a partner's are "
                    "reached through [[partners]]"
                )
        return self


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_centre_config(path: Path) -> CentreConfig:
    """The config in `path`, or edge.config.ConfigError naming each bad key."""
    return parse_toml_model(read_config_text(path), path, CentreConfig)
