"""carec-eseal/1 frames and the host protocol, without a port: the worked examples of
docs/eseal-protocol.md byte for byte, the resynchronising decoder under any bytes, and what
the host reports and answers."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from drivers.eseal import ESealReaderConfig, make_protocol
from drivers.eseal.carec_protocol import CarecESealProtocol
from drivers.eseal.framing import (
    FRAME_GAP_S,
    MAX_PAYLOAD,
    Frame,
    FrameDecoder,
    FrameError,
    NakReason,
    crc16,
    encode_frame,
)
from drivers.eseal.messages import (
    MAX_EVENTS,
    FrameType,
    PayloadError,
    ReaderStatus,
    SealEvent,
    SealId,
    SealReport,
    ack_payload,
    nak_payload,
)
from edge.readings import SealRead, SealState

DOC = Path(__file__).resolve().parents[2] / "docs" / "eseal-protocol.md"
UTC = dt.UTC


def doc_examples() -> dict[str, bytes]:
    blocks = re.findall(r"<!-- example: ([\w-]+) -->\n```text\n([0-9A-F ]+)\n```", DOC.read_text())
    return {name: bytes.fromhex(hex_text) for name, hex_text in blocks}


EXAMPLE_REPORT = SealReport(
    seq=7,
    seal=SealId(0x0A1F, 0x0012D687),
    state=SealState.TAMPERED,
    battery_low=True,
    events=(
        SealEvent(SealState.SEALED, dt.datetime(2026, 11, 27, 22, 15, tzinfo=UTC)),
        SealEvent(SealState.TAMPERED, dt.datetime(2026, 11, 28, 3, 42, 10, tzinfo=UTC)),
    ),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def host(clock: Clock | None = None) -> CarecESealProtocol:
    config = ESealReaderConfig(id="eseal-1", port="unused")
    return CarecESealProtocol(config, clock=clock or Clock())


def report_frame(report: SealReport) -> bytes:
    return encode_frame(FrameType.SEAL_REPORT, report.encode())


def ack(seq: int) -> bytes:
    return encode_frame(FrameType.ACK, ack_payload(seq))


def nak(reason: NakReason) -> bytes:
    return encode_frame(FrameType.NAK, nak_payload(reason))


def frames_of(items: list[Frame | FrameError]) -> list[Frame]:
    return [item for item in items if isinstance(item, Frame)]


def naks_of(items: list[Frame | FrameError]) -> list[NakReason]:
    return [item.nak for item in items if isinstance(item, FrameError) and item.nak is not None]


# -- the worked examples -------------------------------------------------------------------


def test_crc_is_ccitt_false_with_its_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


def test_doc_has_every_worked_example() -> None:
    assert set(doc_examples()) == {"seal-report", "ack", "nak-bad-crc", "status-request", "status"}


def test_worked_seal_report_is_encoded_byte_for_byte() -> None:
    assert report_frame(EXAMPLE_REPORT) == doc_examples()["seal-report"]


def test_worked_seal_report_decodes_to_its_fields() -> None:
    [frame] = FrameDecoder().feed(doc_examples()["seal-report"], now=0.0)
    assert isinstance(frame, Frame)
    assert frame.type == FrameType.SEAL_REPORT
    assert SealReport.decode(frame.payload) == EXAMPLE_REPORT


def test_worked_replies_and_status_are_encoded_byte_for_byte() -> None:
    examples = doc_examples()
    assert ack(7) == examples["ack"]
    assert nak(NakReason.BAD_CRC) == examples["nak-bad-crc"]
    assert host().poll() == examples["status-request"]
    status = ReaderStatus(8, False, False, dt.datetime(2026, 11, 28, 8, 30, tzinfo=UTC))
    assert encode_frame(FrameType.STATUS, status.encode()) == examples["status"]


def test_host_reports_the_worked_example_as_a_tampered_seal_and_acks_it() -> None:
    out = host().feed(doc_examples()["seal-report"])
    assert out.reply == doc_examples()["ack"]
    assert out.rejects == []
    [read] = out.readings
    assert isinstance(read, SealRead)
    assert (read.device, read.seal_id, read.electronic) == ("eseal-1", "0A1F-0012D687", True)
    assert (read.state, read.battery_low) == (SealState.TAMPERED, True)
    assert read.events == (
        ("sealed", dt.datetime(2026, 11, 27, 22, 15, tzinfo=UTC)),
        ("tampered", dt.datetime(2026, 11, 28, 3, 42, 10, tzinfo=UTC)),
    )
    assert read.at.tzinfo is not None


# -- the decoder -----------------------------------------------------------------------------


def test_frame_split_at_every_offset_decodes_the_same() -> None:
    whole = doc_examples()["seal-report"]
    expected = [Frame(FrameType.SEAL_REPORT, EXAMPLE_REPORT.encode())]
    for cut in range(1, len(whole)):
        decoder = FrameDecoder()
        items = decoder.feed(whole[:cut], now=0.0) + decoder.feed(whole[cut:], now=0.0)
        assert items == expected, f"split at {cut}"


def test_frame_fed_byte_by_byte_decodes_once() -> None:
    decoder = FrameDecoder()
    items = [
        item for byte in doc_examples()["seal-report"] for item in decoder.feed(bytes([byte]), 0.0)
    ]
    assert frames_of(items) == [Frame(FrameType.SEAL_REPORT, EXAMPLE_REPORT.encode())]


@pytest.mark.parametrize("length", [0, MAX_PAYLOAD + 2, 0x0200, 0xFFFF])
def test_length_out_of_range_is_rejected_and_the_decoder_resyncs(length: int) -> None:
    good = doc_examples()["seal-report"]
    items = FrameDecoder().feed(b"\x02" + length.to_bytes(2, "big") + good, 0.0)
    assert isinstance(items[0], FrameError)
    assert items[0].nak == NakReason.BAD_LENGTH
    assert frames_of(items) == [Frame(FrameType.SEAL_REPORT, EXAMPLE_REPORT.encode())]


def test_largest_frame_fits_and_one_byte_more_is_refused() -> None:
    largest = encode_frame(0x52, bytes(MAX_PAYLOAD))
    assert frames_of(FrameDecoder().feed(largest, 0.0)) == [Frame(0x52, bytes(MAX_PAYLOAD))]
    with pytest.raises(ValueError, match="at most 255"):
        encode_frame(0x52, bytes(MAX_PAYLOAD + 1))


def test_corrupted_frame_is_a_crc_error_and_the_next_frame_still_decodes() -> None:
    good = doc_examples()["seal-report"]
    damaged = good[:12] + bytes([good[12] ^ 0x10]) + good[13:]
    items = FrameDecoder().feed(damaged + good, 0.0)
    assert naks_of(items)[0] == NakReason.BAD_CRC
    assert frames_of(items) == [Frame(FrameType.SEAL_REPORT, EXAMPLE_REPORT.encode())]


def test_wrong_byte_where_etx_belongs_is_a_length_error() -> None:
    good = doc_examples()["seal-report"]
    items = FrameDecoder().feed(good[:-1] + b"\x04", 0.0)
    assert frames_of(items) == []
    assert naks_of(items)[0] == NakReason.BAD_LENGTH


def test_false_stx_in_noise_cannot_swallow_the_frame_behind_it() -> None:
    # The noise claims LEN 200: the real frame lies inside what it claims.
    good = doc_examples()["seal-report"]
    decoder = FrameDecoder()
    assert frames_of(decoder.feed(b"\x02\x00\xc8" + good, now=0.0)) == []  # still waiting
    items = decoder.feed(b"", now=FRAME_GAP_S + 0.01)  # the line went quiet: give up on it
    assert naks_of(items) == [NakReason.BAD_LENGTH]
    assert frames_of(items) == [Frame(FrameType.SEAL_REPORT, EXAMPLE_REPORT.encode())]


def test_slow_frame_without_a_long_pause_is_not_abandoned() -> None:
    decoder = FrameDecoder()
    items: list[Frame | FrameError] = []
    for i, byte in enumerate(doc_examples()["seal-report"]):
        items += decoder.feed(bytes([byte]), now=i * FRAME_GAP_S * 0.9)
    assert frames_of(items) == [Frame(FrameType.SEAL_REPORT, EXAMPLE_REPORT.encode())]
    assert naks_of(items) == []


frame_types = st.sampled_from([0x06, 0x15, 0x51, 0x52, 0x53]) | st.integers(0, 255)
any_frame = st.builds(Frame, frame_types, st.binary(max_size=MAX_PAYLOAD))
chunk_cuts = st.lists(st.integers(0, 10_000), max_size=20)


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(st.binary(max_size=2000), chunk_cuts, st.lists(st.floats(0, 1), max_size=20))
def test_random_bytes_never_raise_from_the_decoder(
    data: bytes, cuts: list[int], pauses: list[float]
) -> None:
    decoder, now = FrameDecoder(), 0.0
    for i, piece in enumerate(chunks(data, cuts)):
        now += pauses[i] if i < len(pauses) else 0.0
        decoder.feed(piece, now)


@given(st.binary(max_size=2000), chunk_cuts)
def test_random_bytes_never_raise_from_the_protocol(data: bytes, cuts: list[int]) -> None:
    protocol = host()
    for piece in chunks(data, cuts):
        protocol.feed(piece)


# Sound: garbage becomes a frame only if, after a 0x02 in it, a CRC-16 and an ETX match by
# chance (2^-24 per false STX); hypothesis draws garbage bytes independently of the frames'
# CRCs, so a run of a few thousand false STXs would invent a frame with p < 10^-3.
@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.binary(max_size=30), any_frame), max_size=8),
    st.binary(max_size=30),
    chunk_cuts,
)
def test_frames_among_garbage_are_all_recovered_in_order(
    pairs: list[tuple[bytes, Frame]], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(garbage + frame.encode() for garbage, frame in pairs) + tail
    decoder = FrameDecoder()
    items: list[Frame | FrameError] = []
    for piece in chunks(stream, cuts):
        items += decoder.feed(piece, now=0.0)
    items += decoder.feed(b"", now=1.0)  # the line goes quiet: nothing is left waiting
    assert frames_of(items) == [frame for _, frame in pairs]


@given(st.lists(any_frame, min_size=1, max_size=4), chunk_cuts)
def test_any_chunking_decodes_the_same_frames(frames: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(frame.encode() for frame in frames)
    decoder = FrameDecoder()
    items = [item for piece in chunks(stream, cuts) for item in decoder.feed(piece, 0.0)]
    assert items == frames


# -- messages -------------------------------------------------------------------------------

times = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2106, 2, 7), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
states = st.sampled_from(list(SealState))
reports = st.builds(
    SealReport,
    seq=st.integers(0, 255),
    seal=st.builds(SealId, st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)),
    state=states,
    battery_low=st.booleans(),
    events=st.lists(st.builds(SealEvent, states, times), max_size=MAX_EVENTS).map(tuple),
)


@given(reports)
def test_seal_report_round_trips(report: SealReport) -> None:
    frame = report_frame(report)
    assert len(frame) <= MAX_PAYLOAD + 7
    assert SealReport.decode(frame_payload(frame)) == report


def frame_payload(frame: bytes) -> bytes:
    [item] = FrameDecoder().feed(frame, 0.0)
    assert isinstance(item, Frame)
    return item.payload


def test_seal_id_text_form() -> None:
    assert str(SealId(0x0A1F, 0x0012D687)) == "0A1F-0012D687"
    assert SealId.parse("0a1f-0012d687") == SealId(0x0A1F, 0x0012D687)
    with pytest.raises(ValueError, match="4 \\+ 8 hex digits"):
        SealId.parse("A1F-12D687")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (EXAMPLE_REPORT.encode()[:-1], "2 events is 20 bytes, got 19"),
        (EXAMPLE_REPORT.encode()[:7] + b"\x09" + EXAMPLE_REPORT.encode()[8:], "seal state"),
        (b"\x07", "at least 10"),
    ],
)
def test_malformed_seal_report_names_what_is_wrong(payload: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        SealReport.decode(payload)


# -- the host protocol ------------------------------------------------------------------------


def seal(serial: int, seq: int, state: SealState = SealState.SEALED) -> SealReport:
    return SealReport(seq=seq, seal=SealId(0x0A1F, serial), state=state)


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.binary(max_size=30), reports), max_size=6),
    chunk_cuts,
)
def test_host_reports_every_seal_among_garbage_once_and_invents_none(
    pairs: list[tuple[bytes, SealReport]], cuts: list[int]
) -> None:
    # Consecutive reports get distinct SEQs, as a reader's do, so none is a retransmission.
    sent = [
        SealReport(i % 256, r.seal, r.state, r.battery_low, r.events)
        for i, (_, r) in enumerate(pairs)
    ]
    stream = b"".join(
        garbage + report_frame(r) for (garbage, _), r in zip(pairs, sent, strict=True)
    )
    clock = Clock()
    protocol = host(clock)
    reads = []
    for piece in chunks(stream, cuts):
        reads += protocol.feed(piece).readings
    clock.now += 1.0
    reads += protocol.feed(b"").readings
    assert [r.seal_id for r in reads if isinstance(r, SealRead)] == [str(r.seal) for r in sent]
    assert [r.state for r in reads if isinstance(r, SealRead)] == [r.state for r in sent]


@given(st.sampled_from([0x52, 0x53, 0x06, 0x15, 0x51, 0x00, 0xFF]), st.binary(max_size=MAX_PAYLOAD))
def test_intact_frame_with_any_payload_is_read_or_refused_never_raises(
    frame_type: int, payload: bytes
) -> None:
    out = host().feed(encode_frame(frame_type, payload))
    if out.readings:
        assert out.reply.startswith(ack(payload[0]))
    if frame_type in (0x06, 0x15):
        assert out.reply == b""  # ACK and NAK are never answered


def test_retransmission_after_a_lost_ack_is_acked_again_but_not_reported_twice() -> None:
    protocol = host()
    frame = report_frame(seal(1, seq=4))
    first, again = protocol.feed(frame), protocol.feed(frame)
    assert len(first.readings) == 1
    assert again.readings == []
    assert first.reply == again.reply == ack(4)
    assert protocol.counters.duplicates == 1


def test_same_seal_read_again_with_a_new_seq_is_reported_again() -> None:
    protocol = host()
    out = protocol.feed(report_frame(seal(1, seq=4)) + report_frame(seal(1, seq=5)))
    assert [r.seal_id for r in out.readings if isinstance(r, SealRead)] == ["0A1F-00000001"] * 2
    assert out.reply == ack(4) + ack(5)


def test_retransmission_across_a_reconnect_is_still_recognised() -> None:
    protocol = host()
    frame = report_frame(seal(1, seq=4))
    protocol.feed(frame)
    protocol.reset()
    assert protocol.feed(frame).readings == []


def test_crc_error_is_naked_and_rejected() -> None:
    frame = report_frame(seal(1, seq=4))
    out = host().feed(frame[:8] + bytes([frame[8] ^ 1]) + frame[9:])
    assert out.readings == []
    assert out.reply == nak(NakReason.BAD_CRC)
    assert any("CRC" in reason for reason in out.rejects)


def test_crc_error_followed_by_the_good_copy_is_only_acked() -> None:
    frame = report_frame(seal(1, seq=4))
    protocol = host()
    out = protocol.feed(frame[:8] + bytes([frame[8] ^ 1]) + frame[9:] + frame)
    assert len(out.readings) == 1
    assert out.reply == ack(4)


def test_many_errors_in_one_read_get_one_nak() -> None:
    out = host().feed(b"\x02\xff\xff" * 5 + b"\x02\x00\x00")
    assert out.reply == nak(NakReason.BAD_LENGTH)
    assert len(out.rejects) == 6


def test_unknown_type_and_bad_payload_are_naked_with_their_reason() -> None:
    assert host().feed(encode_frame(0x7E, b"")).reply == nak(NakReason.UNKNOWN_TYPE)
    assert host().feed(encode_frame(FrameType.STATUS_REQUEST, b"")).reply == nak(
        NakReason.UNKNOWN_TYPE
    )
    out = host().feed(encode_frame(FrameType.SEAL_REPORT, b"\x01\x02"))
    assert out.reply == nak(NakReason.BAD_PAYLOAD)
    assert out.rejects == ["SEAL_REPORT of 2 bytes, at least 10 expected"]


def test_status_is_acked_and_its_faults_are_rejects() -> None:
    protocol = host()
    status = ReaderStatus(9, True, False, dt.datetime(2026, 11, 28, tzinfo=UTC))
    out = protocol.feed(encode_frame(FrameType.STATUS, status.encode()))
    assert out.reply == ack(9)
    assert out.readings == []
    assert out.rejects == ["reader reports: antenna fault"]
    assert protocol.last_status == status


def test_nak_from_the_reader_is_counted_not_answered() -> None:
    protocol = host()
    out = protocol.feed(nak(NakReason.BAD_CRC) + encode_frame(FrameType.NAK, b""))
    assert out.reply == b""
    assert out.rejects[0] == "the reader NAKed a frame of ours: bad crc"
    assert protocol.counters.naks_received == 1


def test_incomplete_frame_after_a_pause_is_abandoned_and_naked() -> None:
    clock = Clock()
    protocol = host(clock)
    frame = report_frame(seal(1, seq=4))
    assert protocol.feed(frame[:10]).reply == b""
    clock.now += 0.5
    out = protocol.feed(frame)  # the reader's retransmission
    assert len(out.readings) == 1
    assert out.reply == ack(4)  # the error came before an accepted frame: no NAK


# -- config and registry ----------------------------------------------------------------------


def test_config_defaults_and_registry_pick_the_carec_protocol() -> None:
    config = ESealReaderConfig(id="eseal-1", port="/dev/ttyUSB0")
    assert (config.kind, config.protocol, config.poll_interval_s) == ("eseal", "carec-eseal/1", 5.0)
    assert isinstance(make_protocol(config), CarecESealProtocol)


def test_unknown_protocol_name_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(
        ValidationError, match="unknown e-seal reader protocol 'acme'; known: carec-eseal/1"
    ):
        ESealReaderConfig(id="eseal-1", port="/dev/ttyUSB0", protocol="acme")


def test_config_typo_is_an_error() -> None:
    with pytest.raises(ValidationError, match="poll_intervall_s"):
        ESealReaderConfig.model_validate({"id": "e", "port": "p", "poll_intervall_s": 1})
