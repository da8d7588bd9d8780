"""The mosquitto config and ACL rendered from the typed models, without starting a broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sync.broker_config import (
    BrokerConfig,
    PlainListener,
    TlsListener,
    TopicAccess,
    render,
    render_acl,
)


def tls(tmp_path: Path, port: int = 8883) -> TlsListener:
    for name in ("kz.pem", "kg.pem", "broker.crt", "broker.key"):
        (tmp_path / name).write_text(f"-----{name}-----\n")
    return TlsListener(
        port=port,
        cafiles=(tmp_path / "kz.pem", tmp_path / "kg.pem"),
        certfile=tmp_path / "broker.crt",
        keyfile=tmp_path / "broker.key",
    )


def test_a_node_writes_under_its_own_topic_and_reads_what_is_addressed_to_it() -> None:
    assert render_acl((TopicAccess.for_node("KZ-NURZHOLY-1"),)).splitlines()[-3:] == [
        "user KZ-NURZHOLY-1",
        "topic write carec/v1/KZ/KZ-NURZHOLY-1/#",
        "topic read carec/v1/+/+/to/KZ-NURZHOLY-1/#",
    ]


def test_extra_topics_are_added_to_the_defaults() -> None:
    access = TopicAccess.for_node("KG-TORUGART-1", also_read=("carec/v1/KG/+/broadcast/#",))
    assert access.read == ("carec/v1/+/+/to/KG-TORUGART-1/#", "carec/v1/KG/+/broadcast/#")


def test_no_rules_precede_the_first_user_so_strangers_get_nothing() -> None:
    lines = render_acl((TopicAccess.for_node("KZ-NURZHOLY-1"),)).splitlines()
    first_user = next(i for i, line in enumerate(lines) if line.startswith("user "))
    assert not any(line.startswith(("topic", "pattern")) for line in lines[:first_user])


def test_a_cis_is_a_node_too() -> None:
    access = TopicAccess.for_node("KZ-CIS")
    assert (access.write, access.read) == (("carec/v1/KZ/KZ-CIS/#",), ("carec/v1/+/+/to/KZ-CIS/#",))


@pytest.mark.parametrize(
    "node_id", ["kz-nurzholy-1", "KZ NURZHOLY 1", "KZNURZHOLY1", "", "XX-POST-1"]
)
def test_bad_node_id_is_refused_with_the_expected_form(node_id: str) -> None:
    with pytest.raises(ValueError, match=r"KZ-NURZHOLY-1|ISO 3166"):
        TopicAccess.for_node(node_id)


@pytest.mark.parametrize(
    "topic",
    ["carec/v1/#/x", "carec/v1/KZ+/x", "carec/v1/%u/#", "carec v1", "carec/v1\nuser x", ""],
)
def test_topic_filter_that_mosquitto_would_misread_is_refused(topic: str) -> None:
    with pytest.raises(ValidationError):
        TopicAccess(identity="KZ-NURZHOLY-1", write=(topic,))


def test_identity_that_would_break_the_acl_file_is_refused() -> None:
    with pytest.raises(ValidationError, match="identity"):
        TopicAccess(identity="KZ-1\ntopic readwrite #")


def test_identity_listed_twice_is_refused(tmp_path: Path) -> None:
    node = TopicAccess.for_node("KZ-NURZHOLY-1")
    with pytest.raises(ValidationError, match="listed twice: KZ-NURZHOLY-1"):
        BrokerConfig(tls=tls(tmp_path), access=(node, node))


def test_plain_listener_must_be_on_loopback() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        PlainListener(host="0.0.0.0")


def test_path_with_a_space_is_refused_as_mosquitto_would_cut_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="spaces"):
        TlsListener(cafiles=(tmp_path / "my ca.pem",), certfile=tmp_path, keyfile=tmp_path)


def test_render_writes_config_acl_ca_bundle_and_persistence_dir(tmp_path: Path) -> None:
    config = BrokerConfig(tls=tls(tmp_path), access=(TopicAccess.for_node("KZ-NURZHOLY-1"),))
    files = render(config, tmp_path / "broker")

    conf = files.conf.read_text().splitlines()
    for line in (
        "listener 8883 127.0.0.1",
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        f"acl_file {files.acl}",
        f"cafile {files.ca_bundle}",
        "persistence true",
        f"persistence_location {files.persistence_dir}",
        "max_queued_messages 1000000",
        f"log_dest file {files.log}",
    ):
        assert line in conf
    assert "allow_anonymous true" not in conf
    assert files.ca_bundle.read_text() == "-----kz.pem-----\n-----kg.pem-----\n"
    assert "user KZ-NURZHOLY-1" in files.acl.read_text()
    assert files.persistence_dir.is_dir()


def test_plain_listener_is_rendered_only_when_asked(tmp_path: Path) -> None:
    config = BrokerConfig(tls=tls(tmp_path), plain=PlainListener(port=1883))
    conf = render(config, tmp_path / "broker").conf.read_text()
    assert conf.endswith("listener 1883 127.0.0.1\nallow_anonymous true\n")


def test_render_refuses_a_port_not_yet_chosen(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"tls.port: 0"):
        render(BrokerConfig(tls=tls(tmp_path, port=0)), tmp_path / "broker")
