"""The e-seal reader driver (carec-eseal/1) against the reader emulator over a real pty: the
real SerialDevice, the emulator's ACK timeouts and retransmissions, through every line fault."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.eseal import ESealReaderConfig, make_protocol
from drivers.eseal.carec_protocol import CarecESealProtocol
from drivers.sim.eseal import ESealReaderEmulator
from drivers.sim.faults import Faults
from edge.readings import Health, SealRead, SealState
from tests.integration.serial_harness import TIMEOUT_S, Harness, serial_pair

SEALS = [("0A1F-0012D687", SealState.SEALED), ("0A1F-0012D688", SealState.SEALED),
         ("7E02-00000003", SealState.OPENED), ("0203-02020202", SealState.SEALED),
         ("0A1F-FFFFFFFF", SealState.TAMPERED), ("0001-00000001", SealState.SEALED)]  # fmt: skip

LAST = ("0A1F-0000FFFF", SealState.SEALED)  # reported once the others are settled
NO_FAULTS = Faults()


@dataclass
class Bench:
    pair: Harness
    reader: ESealReaderEmulator
    host: CarecESealProtocol

    def seal_reads(self, count: int) -> list[SealRead]:
        reads = self.pair.readings_until(count)
        assert all(isinstance(read, SealRead) for read in reads)
        return [read for read in reads if isinstance(read, SealRead)]

    def settled(self) -> bool:
        """The reader has nothing left to send, and no extra reading came of it: a seal reported
        after that is the next reading (the device hands on frames in the order they came)."""
        if not self.reader.wait_idle(TIMEOUT_S):
            return False
        self.reader.report(*LAST)
        read = self.pair.next_reading()
        return isinstance(read, SealRead) and (read.seal_id, read.state) == LAST


@contextmanager
def bench(
    tmp_path: Path, faults: Faults = NO_FAULTS, *, poll_interval_s: float = 1.0, **reader: object
) -> Iterator[Bench]:
    config = ESealReaderConfig(id="eseal-1", port="unused", poll_interval_s=poll_interval_s)
    host = make_protocol(config)
    assert isinstance(host, CarecESealProtocol)
    with serial_pair(tmp_path, host, poll_interval_s=config.poll_interval_s) as pair:
        settings: dict[str, object] = {"ack_timeout_s": 0.25, "max_retries": 10} | reader
        emulator = ESealReaderEmulator(
            pair.port,
            faults=faults,
            rng=random.Random(7),
            **settings,  # type: ignore[arg-type]
        )
        with emulator:
            yield Bench(pair, emulator, host)


def report_all(reader: ESealReaderEmulator) -> None:
    for seal_id, state in SEALS:
        reader.report(seal_id, state)


FAULTS = {
    "clean": Faults(),
    "split frames": Faults(split=1.0),
    "byte by byte, slowly": Faults(byte_delay_s=0.002),
    "line noise": Faults(noise=0.7),
    "everything at once": Faults(noise=0.3, split=0.5, duplicate=0.3, corrupt=0.3),
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
def test_every_seal_is_reported_once_in_order(tmp_path: Path, faults: Faults) -> None:
    with bench(tmp_path, faults) as b:
        report_all(b.reader)
        reads = b.seal_reads(len(SEALS))
        assert b.settled()
    assert [(r.seal_id, r.state) for r in reads] == SEALS
    assert all(r.electronic and r.device == "eseal-1" and r.at.tzinfo for r in reads)
    assert b.reader.counters.given_up == 0
    if faults.noise:
        assert b.pair.device.stats.rejects >= 1  # the noise was seen, and dropped


def test_crc_errors_are_naked_and_every_seal_still_arrives_exactly_once(tmp_path: Path) -> None:
    with bench(tmp_path, Faults(corrupt=0.5)) as b:
        report_all(b.reader)
        reads = b.seal_reads(len(SEALS))
        assert b.settled()
    assert [(r.seal_id, r.state) for r in reads] == SEALS
    assert b.reader.counters.naks_received >= 1
    assert b.reader.counters.retransmissions >= b.reader.counters.naks_received
    assert b.host.counters.naks_sent >= 1
    assert b.pair.device.stats.rejects >= 1


def test_retransmission_after_a_lost_ack_is_not_reported_twice(tmp_path: Path) -> None:
    with bench(tmp_path, lose_acks=0.5, ack_timeout_s=0.15) as b:
        report_all(b.reader)
        reads = b.seal_reads(len(SEALS))
        assert b.settled()
    assert [r.seal_id for r in reads] == [seal_id for seal_id, _ in SEALS]
    assert b.reader.counters.acks_lost >= 1
    assert b.host.counters.duplicates >= 1


def test_frames_doubled_on_the_line_are_reported_once(tmp_path: Path) -> None:
    with bench(tmp_path, Faults(duplicate=1.0)) as b:
        report_all(b.reader)
        reads = b.seal_reads(len(SEALS))
        assert b.settled()
    assert [r.seal_id for r in reads] == [seal_id for seal_id, _ in SEALS]
    assert b.host.counters.duplicates >= len(SEALS)


def test_tampered_seal_with_low_battery_arrives_with_its_events(tmp_path: Path) -> None:
    events = [(SealState.SEALED, dt.datetime(2026, 11, 27, 22, 15, tzinfo=dt.UTC)),
              (SealState.OPENED, dt.datetime(2026, 11, 28, 1, 0, 5, tzinfo=dt.UTC)),
              (SealState.TAMPERED, dt.datetime(2026, 11, 28, 3, 42, 10, tzinfo=dt.UTC))]  # fmt: skip
    with bench(tmp_path, Faults(split=1.0)) as b:
        b.reader.report("0A1F-0012D687", SealState.TAMPERED, battery_low=True, events=events)
        [read] = b.seal_reads(1)
    assert (read.seal_id, read.state, read.battery_low) == (
        "0A1F-0012D687",
        SealState.TAMPERED,
        True,
    )
    assert read.events == tuple((state.value, at) for state, at in events)
    assert read.to_dict()["events"][2] == {"state": "tampered", "at": "2026-11-28T03:42:10Z"}


def test_reader_unplugged_and_replugged_reports_again(tmp_path: Path) -> None:
    with bench(tmp_path) as b:
        b.reader.report("0A1F-00000001", SealState.SEALED)
        assert [r.seal_id for r in b.seal_reads(1)] == ["0A1F-00000001"]
        assert b.reader.wait_idle()
        b.pair.port.unplug()
        b.pair.wait_health(Health.DISCONNECTED)
        b.pair.port.plug()
        b.pair.wait_health(Health.CONNECTED)
        b.reader.report("0A1F-00000002", SealState.OPENED)
        [read] = b.seal_reads(1)
        assert b.settled()
    assert (read.seal_id, read.state) == ("0A1F-00000002", SealState.OPENED)
    assert b.pair.device.stats.reconnects >= 1


def test_idle_reader_is_polled_and_its_antenna_fault_degrades_the_device(tmp_path: Path) -> None:
    with bench(tmp_path, poll_interval_s=0.1, antenna_fault=True) as b:
        reason = b.pair.next_reject()
        b.pair.wait_health(Health.DEGRADED)
        assert b.reader.counters.status_requests >= 1
        assert b.host.last_status is not None
        assert b.host.last_status.antenna_fault
        b.reader.report("0A1F-00000001", SealState.SEALED)
        assert [r.seal_id for r in b.seal_reads(1)] == ["0A1F-00000001"]
        b.pair.wait_health(Health.CONNECTED)
    assert reason == "reader reports: antenna fault"
