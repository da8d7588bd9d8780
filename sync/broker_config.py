"""A mosquitto 2.0 configuration and ACL file, rendered from typed models into one directory.

The broker authenticates every client by its certificate (mutual TLS, `require_certificate`)
and takes the certificate's CN as the username (`use_identity_as_username`). The ACL then says,
per identity, which topics it may write and read. For a node the common case is one line:

    BrokerConfig(
        tls=TlsListener(port=8883, cafiles=(kz_ca,), certfile=crt, keyfile=key),
        access=(TopicAccess.for_node("KZ-NURZHOLY-1"), TopicAccess.for_node("KG-TORUGART-1")),
    )

A node (a post's box, or a CIS) writes only under `carec/v1/<its country>/<its id>/#` and reads
what is addressed to it, `carec/v1/+/+/to/<its id>/#`: the patterns of the topic contract,
`sync.topics`. `also_write` / `also_read` add more. `render()` writes
`mosquitto.conf`, `acl`, the trusted CA bundle, and the persistence directory.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from sync.topics import publish_patterns, subscribe_patterns

# A certificate CN the ACL file can hold on a `user` line: no spaces, no control characters.
IDENTITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

CONF_NAME = "mosquitto.conf"
ACL_NAME = "acl"
CA_BUNDLE_NAME = "trusted-cas.pem"
LOG_NAME = "mosquitto.log"
PERSISTENCE_DIR_NAME = "persistence"
PERSISTENCE_FILE_NAME = "mosquitto.db"


def _topic_filter(value: str) -> str:
    """An MQTT topic filter fit for an ACL line: wildcards only as whole levels, `#` last."""
    if not value or any(ch.isspace() or ord(ch) < 0x20 for ch in value) or "\x00" in value:
        raise ValueError("a topic filter must be non-empty, without spaces or control characters")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError(f"{value!r}: '#' may only be the whole last level")
        if "+" in level and level != "+":
            raise ValueError(f"{value!r}: '+' must be a whole level")
        if "%" in level:
            raise ValueError(f"{value!r}: '%' substitutions are not used in this ACL")
    return value


def _config_path(value: Path) -> Path:
    # mosquitto splits config lines on whitespace, so a path with a space would be cut short.
    if any(ch.isspace() for ch in str(value)):
        raise ValueError(f"{value}: mosquitto cannot read a path with spaces; move the file")
    return value


def _loopback(value: str) -> str:
    if not ipaddress.ip_address(value).is_loopback:
        raise ValueError(f"{value}: the plain listener is for local benchmarks, bind a loopback")
    return value


TopicFilter = Annotated[str, AfterValidator(_topic_filter)]
ConfigPath = Annotated[Path, AfterValidator(_config_path)]
Port = Annotated[int, Field(ge=0, le=65535)]  # 0: not chosen yet (MosquittoBroker picks one)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicAccess(_Model):
    """What one identity (the CN of its certificate) may publish (`write`) and receive (`read`).

    Subscribing is never refused by mosquitto 2.0; `read` decides which messages are delivered.
    """

    identity: Annotated[str, Field(pattern=IDENTITY_PATTERN)]
    write: tuple[TopicFilter, ...] = ()
    read: tuple[TopicFilter, ...] = ()

    @classmethod
    def for_node(
        cls,
        node_id: str,
        also_write: tuple[str, ...] = (),
        also_read: tuple[str, ...] = (),
    ) -> TopicAccess:
        """A post's box or a CIS: writes under its own prefix, reads what is addressed to it."""
        return cls(
            identity=node_id,
            write=(*publish_patterns(node_id), *also_write),
            read=(*subscribe_patterns(node_id), *also_read),
        )

    @classmethod
    def for_bridge(cls, identity: str, topics: tuple[str, ...]) -> TopicAccess:
        """A bridge from another broker (a CIS, the partner country) relays other nodes'
        messages, so it reads and writes every topic in `topics`: keep them to its country."""
        return cls(identity=identity, write=topics, read=topics)


class TlsListener(_Model):
    """The listener every node and bridge connects to: mutual TLS, identity from the cert."""

    host: str = "127.0.0.1"
    port: Port = 8883
    # Every CA whose certificates may connect (own country's fleet CA, partners'); concatenated
    # into one bundle. Any of them can issue a certificate with any CN, and the ACL trusts the
    # CN alone: see image/mosquitto/carec-edge.conf.example.
    cafiles: Annotated[tuple[ConfigPath, ...], Field(min_length=1)]
    certfile: ConfigPath
    keyfile: ConfigPath
    crlfile: ConfigPath | None = None
    # The minimum version; mosquitto allows this one and newer.
    tls_version: Literal["tlsv1.2", "tlsv1.3"] = "tlsv1.2"


class PlainListener(_Model):
    """An unauthenticated, unencrypted listener for baseline benchmarks only: anonymous
    clients may publish and read anything on it, so it binds a loopback address or nothing."""

    host: Annotated[str, AfterValidator(_loopback)] = "127.0.0.1"
    port: Port = 1883


class BrokerConfig(_Model):
    tls: TlsListener
    plain: PlainListener | None = None
    access: tuple[TopicAccess, ...] = ()

    # Store and forward: an offline peer's session queues what is sent to it until it returns.
    # Past either limit mosquitto drops QoS 1 messages silently, so both are generous (0: none).
    max_queued_messages: Annotated[int, Field(ge=0)] = 1_000_000
    max_queued_bytes: Annotated[int, Field(ge=0)] = 0
    # QoS 1 messages in flight to one client at once; 1 would serialise every delivery.
    max_inflight_messages: Annotated[int, Field(ge=0, le=65535)] = 100
    # The largest MQTT packet the broker accepts (a bigger one disconnects its sender); 0: none.
    max_packet_size: Annotated[int, Field(ge=0)] = 1024 * 1024
    # Sessions of clients that never come back are removed after this (mosquitto syntax, e.g.
    # "30d"); None keeps them forever.
    persistent_client_expiration: Annotated[str, Field(pattern=r"^[0-9]+[hdwmy]$")] | None = "90d"

    # Sessions and queued messages live in memory and are written to disk (the whole database
    # each time) on a clean stop and, with `autosave_on_changes`, after every
    # `autosave_interval` changes (queued messages, subscriptions); without it, every
    # `autosave_interval` seconds. mosquitto PUBACKs before it saves, so a kill -9 or power
    # cut loses what came since the last save: here at most ~100 messages, where a 1 s timer
    # loses the last 1-2 s of traffic (thousands). A save per change (1) costs O(queue) per
    # message and still loses the last one.
    autosave_interval: Annotated[int, Field(ge=0)] = 100
    autosave_on_changes: bool = True

    log_types: tuple[Literal["error", "warning", "notice", "information", "subscribe"], ...] = (
        "error",
        "warning",
        "notice",
        "information",
    )
    # Also log to stderr (MosquittoBroker reads it to see the broker ready, or why it stopped).
    log_to_stderr: bool = False
    # When started as root, mosquitto drops to this user (its default "mosquitto" cannot read
    # test files owned by someone else). None: mosquitto's default.
    run_as_user: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]*$")] | None = None

    @model_validator(mode="after")
    def _distinct(self) -> BrokerConfig:
        names = [entry.identity for entry in self.access]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"access: identities listed twice: {', '.join(duplicates)}")
        ports = [self.tls.port] + ([self.plain.port] if self.plain else [])
        if len(ports) == 2 and ports[0] == ports[1] != 0:
            raise ValueError(f"plain.port: {ports[1]} is the TLS listener's port too")
        return self


@dataclass(frozen=True)
class BrokerFiles:
    """Where `render()` put things."""

    directory: Path
    conf: Path
    acl: Path
    ca_bundle: Path
    log: Path
    persistence_dir: Path

    @property
    def persistence_file(self) -> Path:
        return self.persistence_dir / PERSISTENCE_FILE_NAME


def broker_files(directory: Path) -> BrokerFiles:
    return BrokerFiles(
        directory=directory,
        conf=directory / CONF_NAME,
        acl=directory / ACL_NAME,
        ca_bundle=directory / CA_BUNDLE_NAME,
        log=directory / LOG_NAME,
        persistence_dir=directory / PERSISTENCE_DIR_NAME,
    )


def render_acl(access: tuple[TopicAccess, ...]) -> str:
    lines = [
        "# Generated by sync.broker_config: regenerate, do not edit.",
        "# No topic lines precede the first `user`, so a client without an entry gets nothing.",
    ]
    for entry in access:
        lines += ["", f"user {entry.identity}"]
        lines += [f"topic write {topic}" for topic in entry.write]
        lines += [f"topic read {topic}" for topic in entry.read]
    return "\n".join(lines) + "\n"


def render_conf(config: BrokerConfig, files: BrokerFiles) -> str:
    """The text of mosquitto.conf for `config`, naming the other files in `files`."""
    for name, listener in (("tls", config.tls), ("plain", config.plain)):
        if listener is not None and listener.port == 0:
            raise ValueError(f"{name}.port: 0; choose a port first (MosquittoBroker does)")
    tls = config.tls
    lines = [
        "# Generated by sync.broker_config: regenerate, do not edit.",
        "per_listener_settings true",
        "",
        "persistence true",
        f"persistence_location {files.persistence_dir}",
        f"persistence_file {PERSISTENCE_FILE_NAME}",
        f"autosave_interval {config.autosave_interval}",
        f"autosave_on_changes {str(config.autosave_on_changes).lower()}",
    ]
    if config.persistent_client_expiration is not None:
        lines.append(f"persistent_client_expiration {config.persistent_client_expiration}")
    lines += [
        f"max_queued_messages {config.max_queued_messages}",
        f"max_queued_bytes {config.max_queued_bytes}",
        f"max_inflight_messages {config.max_inflight_messages}",
        "queue_qos0_messages false",
        "set_tcp_nodelay true",
    ]
    if config.max_packet_size:
        lines.append(f"max_packet_size {config.max_packet_size}")
    if config.run_as_user is not None:
        lines.append(f"user {config.run_as_user}")
    lines += ["", f"log_dest file {files.log}"]
    if config.log_to_stderr:
        lines.append("log_dest stderr")
    lines += [f"log_type {kind}" for kind in config.log_types]
    lines += [
        "log_timestamp true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "connection_messages true",
        "",
        "# Nodes and bridges: mutual TLS, the certificate's CN is the username for the ACL.",
        f"listener {tls.port} {tls.host}",
        "allow_anonymous false",
        f"acl_file {files.acl}",
        f"cafile {files.ca_bundle}",
        f"certfile {tls.certfile}",
        f"keyfile {tls.keyfile}",
        "require_certificate true",
        "use_identity_as_username true",
        f"tls_version {tls.tls_version}",
    ]
    if tls.crlfile is not None:
        lines.append(f"crlfile {tls.crlfile}")
    if config.plain is not None:
        lines += [
            "",
            "# Baseline benchmarks only: no TLS, anonymous, no ACL, loopback.",
            f"listener {config.plain.port} {config.plain.host}",
            "allow_anonymous true",
        ]
    return "\n".join(lines) + "\n"


def render(config: BrokerConfig, directory: Path) -> BrokerFiles:
    """Write mosquitto.conf, the ACL and the CA bundle into `directory`, and make the
    persistence directory (its contents, the broker's saved state, are kept)."""
    _config_path(directory)
    files = broker_files(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files.persistence_dir.mkdir(exist_ok=True)
    bundle = b"".join(path.read_bytes().rstrip(b"\n") + b"\n" for path in config.tls.cafiles)
    files.ca_bundle.write_bytes(bundle)
    files.acl.write_text(render_acl(config.access), encoding="utf-8")
    files.conf.write_text(render_conf(config, files), encoding="utf-8")
    return files
