"""The barcode scanner's byte protocol on its own: any bytes, any chunking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.barcode import BarcodeProtocol, BarcodeScannerConfig, split_aim
from edge.readings import BarcodeRead

FRAMED = BarcodeScannerConfig(id="s", port="p", prefix="\x02", suffix="\x03")
SCANS = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
)


def feed_all(protocol: BarcodeProtocol, chunks: list[bytes]) -> list[BarcodeRead]:
    reads: list[BarcodeRead] = []
    for chunk in chunks:
        reads += [r for r in protocol.feed(chunk).readings if isinstance(r, BarcodeRead)]
    return reads


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_random_bytes_never_crash_the_protocol(chunks: list[bytes]) -> None:
    for config in (FRAMED, BarcodeScannerConfig(id="s", port="p")):
        feed_all(BarcodeProtocol(config), chunks)


@settings(max_examples=300, deadline=None)
@given(
    scans=st.lists(SCANS, min_size=1, max_size=6),
    noise=st.lists(
        st.binary(max_size=30).map(
            lambda b: b.replace(b"\x02", b"").replace(b"\r", b"").replace(b"\n", b"")
        ),
        min_size=7,
        max_size=7,
    ),
    cut=st.integers(1, 7),
)
def test_framed_scans_in_garbage_are_all_recovered_in_order(
    scans: list[str], noise: list[bytes], cut: int
) -> None:
    stream = b""
    for i, scan in enumerate(scans):
        stream += noise[i] + b"\x02" + scan.encode() + b"\x03\r"
    chunks = [stream[i : i + cut] for i in range(0, len(stream), cut)]
    reads = feed_all(BarcodeProtocol(FRAMED), chunks)
    expected = [split_aim(s)[2] for s in scans]
    assert [r.text for r in reads] == [e for e in expected if e]


def test_aim_identifiers_name_the_symbology() -> None:
    assert split_aim("]Q1hello") == ("]Q1", "qr", "hello")
    assert split_aim("]L2XA81234567") == ("]L2", "pdf417", "XA81234567")
    assert split_aim("no aim") == (None, None, "no aim")


def test_a_line_without_terminator_cannot_grow_forever() -> None:
    protocol = BarcodeProtocol(BarcodeScannerConfig(id="s", port="p", max_length=64))
    out = protocol.feed(b"A" * 100)
    assert out.rejects
    assert "longer than 64 bytes" in out.rejects[0]
    assert protocol.feed(b"OK\r").readings[0].text == "OK"  # type: ignore[attr-defined]
