"""The passport reader driver against its emulator over a real pty."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.mrz_reader import MrzReaderConfig, MrzReaderProtocol
from drivers.sim.faults import Faults
from drivers.sim.mrz_reader import MrzReaderEmulator
from edge.readings import DocumentRead, Health
from tests.integration.serial_harness import serial_pair

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")
BAD_BIRTH = (TD3[0], TD3[1][:19] + "3" + TD3[1][20:])  # birth date check digit 2 -> 3


def protocol() -> MrzReaderProtocol:
    return MrzReaderProtocol(MrzReaderConfig(id="mrz-1", port="unused"))


def documents(out: list[object]) -> list[DocumentRead]:
    return [r for r in out if isinstance(r, DocumentRead)]


FAULTS = {
    "clean": Faults(),
    "split": Faults(split=1.0),
    "slow": Faults(byte_delay_s=0.001),
    "noise": Faults(noise=1.0),
    "duplicates": Faults(duplicate=1.0),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_each_document_format_arrives_parsed(tmp_path: Path, fault: Faults) -> None:
    with serial_pair(tmp_path, protocol()) as pair:
        reader = MrzReaderEmulator(pair.port, faults=fault, rng=random.Random(1))
        for lines in (TD3, TD1, TD2):
            reader.swipe(lines)
        reads = documents(pair.readings_until(6 if fault.duplicate else 3))[
            :: 2 if fault.duplicate else 1
        ]
    assert [r.mrz["format"] for r in reads] == ["TD3", "TD1", "TD2"]
    assert all(r.valid for r in reads)
    assert [r.document_number for r in reads] == ["L898902C3", "D23145890", "D23145890"]
    assert reads[0].mrz["surname"] == "ERIKSSON"


def test_a_document_failing_a_check_is_reported_invalid_not_dropped(tmp_path: Path) -> None:
    with serial_pair(tmp_path, protocol()) as pair:
        MrzReaderEmulator(pair.port).swipe(BAD_BIRTH)
        read = pair.next_reading()
    assert isinstance(read, DocumentRead)
    assert not read.valid
    assert "birth_date" in read.failed_checks


def test_crlf_readers_and_garbage_between_documents(tmp_path: Path) -> None:
    with serial_pair(tmp_path, protocol()) as pair:
        pair.port.write(b"\x00\xffGARBAGE\r\n" + TD3[0].encode() + b"\r\n\r\n")  # a misfeed
        MrzReaderEmulator(pair.port, line_end=b"\r\n").swipe(TD3)
        read = pair.next_reading()
        reasons = [pair.next_reject(), pair.next_reject()]
    assert isinstance(read, DocumentRead)
    assert read.valid
    assert any("not an MRZ line" in r for r in reasons)
    assert any("incomplete MRZ" in r for r in reasons)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=8), st.integers(0, 3))
def test_random_bytes_never_crash_and_documents_in_between_are_recovered(
    chunks: list[bytes], where: int
) -> None:
    proto = protocol()
    good = b"\r" + b"\r".join(line.encode() for line in TD3) + b"\r\r"
    stream = [*chunks[:where], good, *chunks[where:]]
    found = []
    for chunk in stream:
        found += documents(proto.feed(chunk).readings)
    assert any(r.valid and r.document_number == "L898902C3" for r in found)


def test_reader_unplugged_and_replugged_reads_again(tmp_path: Path) -> None:
    with serial_pair(tmp_path, protocol()) as pair:
        pair.port.unplug()
        pair.wait_health(Health.DISCONNECTED)
        pair.port.plug()
        pair.wait_health(Health.CONNECTED)
        MrzReaderEmulator(pair.port).swipe(TD1)
        read = pair.next_reading()
    assert isinstance(read, DocumentRead)
    assert read.valid
