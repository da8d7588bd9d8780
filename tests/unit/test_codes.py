"""Codes read from camera frames and image files, and what their text means at the border."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from pyzbar import pyzbar

from drivers.codes import (
    DecodedCode,
    ImageError,
    Payload,
    PayloadKind,
    decode_image,
    mrn_error,
    parse_payload,
)
from drivers.codes.in_regions import read_regions
from drivers.codes.regions import candidate_regions
from edge.cli import codes_cmd
from edge.codes import iso6346_check_digit
from tests.fixtures.rendered_codes import (
    MARGIN,
    Gray,
    as_bgr,
    blur,
    document_frame,
    invert,
    large_frame,
    png_bytes,
    python_barcode,
    render,
    segno_qr_png,
    side_by_side,
    tilt,
    turn_90,
)

VALID_MRN = "99IT9876AB88901209"  # HMRC's transit test MRN, check character 9
KZ_MRN = "24KZ560100001234J8"

# What each symbology carries at a crossing, and which decoder must read it.
SYMBOLS = {
    "qr": ('{"mrn":"99IT9876AB88901209","tir":"XA81234567","seals":["KZ1234567"]}', "zbar"),
    "code128": (VALID_MRN, "zbar"),
    "pdf417": ("MRN=99IT9876AB88901209;TIR=XA81234567;CMR=2024/0042", "zxing-cpp"),
    "datamatrix": ("SEAL:KZ-1234567", "zxing-cpp"),
    "aztec": ("CMR:2024/0042", "zxing-cpp"),
    "ean13": ("4006381333931", "zbar"),
    "code39": ("CSQU3054383", "zbar"),
}
SPOILERS: dict[str, Callable[[Gray], Gray]] = {
    "as printed": lambda image: image,
    "turned 90°": turn_90,
    "tilted 12°": lambda image: tilt(image, 12),
    "tilted -15°": lambda image: tilt(image, -15),
    "blurred": lambda image: blur(image, 1.5),
}


def only_code(codes: list[DecodedCode]) -> DecodedCode:
    assert len(codes) == 1, codes
    return codes[0]


# --- reading codes from images ---


@pytest.mark.parametrize("spoiler", SPOILERS)
@pytest.mark.parametrize("format_name", SYMBOLS)
def test_every_symbology_is_read_by_its_decoder_however_the_camera_saw_it(
    format_name: str, spoiler: str
) -> None:
    text, decoder = SYMBOLS[format_name]
    image = SPOILERS[spoiler](render(format_name, text))

    code = only_code(decode_image(image))

    assert (code.format, code.text, code.decoder) == (format_name, text, decoder)


def test_colour_frame_and_png_file_are_read_like_gray_arrays(tmp_path: Path) -> None:
    gray = render("datamatrix", "SEAL:KZ-1234567")
    path = tmp_path / "seal.png"
    path.write_bytes(png_bytes(as_bgr(gray)))

    for source in (as_bgr(gray), path, str(path), png_bytes(gray)):
        assert only_code(decode_image(source)).text == "SEAL:KZ-1234567"


def test_position_is_the_symbols_corners_in_the_input_image() -> None:
    image = render("qr", "TIR:XA81234567")
    size = image.shape[0] - 2 * MARGIN

    xs, ys = zip(*only_code(decode_image(image)).position, strict=True)

    assert min(xs) >= MARGIN - 2
    assert max(xs) <= MARGIN + size + 2
    assert min(ys) >= MARGIN - 2
    assert max(ys) <= MARGIN + size + 2


def test_a_tilted_pdf417_is_deskewed_and_its_position_mapped_back() -> None:
    image = tilt(render("pdf417", "MRN=99IT9876AB88901209"), -15)
    assert zxingcpp.read_barcodes(image) == []  # beyond zxing-cpp alone: the retry is needed

    code = only_code(decode_image(image))

    center_x, center_y = np.mean(np.array(code.position), axis=0)
    assert code.format == "pdf417"
    assert abs(center_x - image.shape[1] / 2) < 15
    assert abs(center_y - image.shape[0] / 2) < 15


def test_a_badly_blurred_code_is_read_after_sharpening() -> None:
    image = blur(render("code39", "CSQU3054383"), 2.5)
    assert pyzbar.decode(image) == []
    assert zxingcpp.read_barcodes(image) == []

    assert decode_image(image, retry=False) == []
    assert only_code(decode_image(image)).text == "CSQU3054383"


def test_a_code_read_by_both_decoders_is_reported_once_as_zbars() -> None:
    image = side_by_side(render("qr", "SEAL:A1"), render("datamatrix", "SEAL:B2"))
    assert zxingcpp.read_barcodes(image)  # zxing-cpp reads the QR code too

    codes = sorted(decode_image(image), key=lambda code: code.text)

    assert [(c.format, c.text, c.decoder) for c in codes] == [
        ("qr", "SEAL:A1", "zbar"),
        ("datamatrix", "SEAL:B2", "zxing-cpp"),
    ]


def test_two_labels_with_the_same_seal_id_are_two_reads() -> None:
    label = render("qr", "SEAL:A1")

    assert len(decode_image(side_by_side(label, label))) == 2


def test_codes_from_other_generators_read_the_same() -> None:
    pytest.importorskip("segno")
    pytest.importorskip("barcode")

    qr = only_code(decode_image(segno_qr_png("TIR:XA81234567")))
    # Not VALID_MRN: python-barcode 0.16 drops a leading "99" from Code 128 (both decoders agree).
    linear = only_code(decode_image(python_barcode("code128", KZ_MRN)))

    assert (qr.format, qr.text, qr.decoder) == ("qr", "TIR:XA81234567", "zbar")
    assert (linear.format, linear.text, linear.decoder) == ("code128", KZ_MRN, "zbar")
    assert parse_payload(linear.text, linear.format) == Payload(PayloadKind.MRN, mrn=KZ_MRN)


def test_an_image_without_codes_is_an_empty_list() -> None:
    noise = np.random.default_rng(7).integers(0, 256, (240, 320), dtype=np.uint8)

    assert decode_image(noise) == []


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (np.frombuffer(os.urandom(4096), dtype=np.uint8), "got shape (4096,)"),
        (np.zeros((0, 0), dtype=np.uint8), "empty image"),
        (np.zeros((20, 20, 2), dtype=np.uint8), "channels"),
        (np.full((20, 20), 3.5), "within 0..1"),
        (np.array([["a", "b"]]), "unsupported pixel type"),
        (os.urandom(4096), "not an image file"),
        (b"", "empty file"),
        (png_bytes(np.zeros((50, 50), np.uint8))[:60], "corrupt image file"),
        (42, "got int"),
    ],
    ids=[
        "random bytes array",
        "empty array",
        "two channels",
        "float out of range",
        "strings",
        "random bytes",
        "no bytes",
        "truncated png",
        "not an image at all",
    ],
)
def test_what_is_not_an_image_is_an_image_error_with_the_reason(
    source: object, reason: str
) -> None:
    with pytest.raises(ImageError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode_image(source)  # type: ignore[arg-type]


def test_a_corrupt_or_missing_file_is_an_image_error_naming_it(tmp_path: Path) -> None:
    corrupt = tmp_path / "frame.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))

    with pytest.raises(ImageError, match=r"frame\.png: corrupt image file|frame\.png: not an"):
        decode_image(corrupt)
    with pytest.raises(ImageError, match=r"missing\.png: cannot read"):
        decode_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="cannot read"):
        decode_image(tmp_path)


# --- codes in a large frame (a camera's or a document scanner's 1080p) ---


def centre(code: DecodedCode) -> tuple[float, float]:
    x, y = np.mean(np.array(code.position, dtype=float), axis=0)
    return float(x), float(y)


def placed_centre(image: Gray, x: int, y: int) -> tuple[float, float]:
    return x + image.shape[1] / 2, y + image.shape[0] / 2


def assert_near(found: tuple[float, float], expected: tuple[float, float]) -> None:
    assert abs(found[0] - expected[0]) < 20, (found, expected)
    assert abs(found[1] - expected[1]) < 20, (found, expected)


@pytest.mark.parametrize("format_name", SYMBOLS)
def test_every_symbology_on_a_document_in_a_1080p_frame_is_read(format_name: str) -> None:
    text, decoder = SYMBOLS[format_name]
    rng = np.random.default_rng(1200 + list(SYMBOLS).index(format_name))
    frame = document_frame(format_name, text, rng)

    code = only_code(decode_image(frame))

    assert (code.format, code.text, code.decoder) == (format_name, text, decoder)


@pytest.mark.parametrize(
    ("format_name", "scale"), [("qr", 2), ("datamatrix", 2), ("aztec", 2), ("code128", 1)]
)
def test_a_small_code_in_a_large_frame_is_found_in_its_region(format_name: str, scale: int) -> None:
    text = SYMBOLS[format_name][0]
    symbol = render(format_name, text, scale=scale)[
        MARGIN - 20 : -(MARGIN - 20), MARGIN - 20 : -(MARGIN - 20)
    ]
    frame = large_frame([(symbol, 1400, 700)], seed=1300)

    code = only_code(read_in_regions(frame))

    assert (code.format, code.text) == (format_name, text)
    assert_near(centre(code), placed_centre(symbol, 1400, 700))


def test_codes_far_apart_in_a_large_frame_are_each_read_once_with_their_place() -> None:
    qr, linear = render("qr", "SEAL:A1"), render("code128", VALID_MRN)
    datamatrix = render("datamatrix", "SEAL:B2")
    frame = large_frame([(qr, 40, 40), (linear, 900, 600), (datamatrix, 1500, 80)], seed=1301)

    codes = {code.text: code for code in decode_image(frame)}

    assert sorted(codes) == sorted(["SEAL:A1", VALID_MRN, "SEAL:B2"])
    assert [codes[text].decoder for text in ("SEAL:A1", VALID_MRN, "SEAL:B2")] == [
        "zbar",
        "zbar",
        "zxing-cpp",
    ]
    assert_near(centre(codes["SEAL:A1"]), placed_centre(qr, 40, 40))
    assert_near(centre(codes[VALID_MRN]), placed_centre(linear, 900, 600))
    assert_near(centre(codes["SEAL:B2"]), placed_centre(datamatrix, 1500, 80))


def test_two_labels_with_the_same_seal_id_in_a_large_frame_are_two_reads() -> None:
    label = render("qr", "SEAL:A1")

    codes = decode_image(large_frame([(label, 100, 100), (label, 1200, 500)], seed=1302))

    assert [code.text for code in codes] == ["SEAL:A1", "SEAL:A1"]


def test_a_tilted_pdf417_in_a_large_frame_is_turned_upright_in_its_region() -> None:
    symbol = tilt(render("pdf417", "MRN=99IT9876AB88901209"), -15)
    frame = large_frame([(symbol, 700, 300)], seed=1303)
    assert zxingcpp.read_barcodes(frame) == []  # beyond zxing-cpp alone

    code = only_code(read_in_regions(frame))

    assert (code.format, code.text) == ("pdf417", "MRN=99IT9876AB88901209")
    assert_near(centre(code), placed_centre(symbol, 700, 300))


def test_a_code128_turned_90_degrees_in_a_large_frame_is_zbars_read() -> None:
    symbol = turn_90(render("code128", VALID_MRN))
    frame = large_frame([(symbol, 300, 200)], seed=1304)

    code = only_code(decode_image(frame))

    assert (code.format, code.text, code.decoder) == ("code128", VALID_MRN, "zbar")
    assert_near(centre(code), placed_centre(symbol, 300, 200))


def test_a_small_defocused_code_in_a_large_frame_is_read_from_its_region_sharpened() -> None:
    symbol = blur(render("aztec", "CMR:2024/0042", scale=3), 1.4)[70:-70, 70:-70]
    frame = large_frame([(symbol, 1500, 600)], seed=1307)
    assert read_regions(frame) == []  # as the camera saw it, too soft for zxing-cpp

    code = only_code(decode_image(frame))

    assert (code.format, code.text) == ("aztec", "CMR:2024/0042")
    assert_near(centre(code), placed_centre(symbol, 1500, 600))
    assert [found.text for found in read_regions(frame, sharpened=True)] == ["CMR:2024/0042"]


def test_a_code_on_a_busy_texture_filling_the_frame_is_still_found_in_its_region() -> None:
    # Gravel, a grille, a tarpaulin: edges everywhere raise the bar with the frame's own
    # background, but never above what a printed code keeps.
    gravel = np.random.default_rng(1308).normal(128, 40, (1080, 1920))
    frame = np.clip(cv2.GaussianBlur(gravel, (0, 0), 1.0), 0, 255).astype(np.uint8)
    symbol = render("qr", "SEAL:KZ1", scale=4)
    frame[300 : 300 + symbol.shape[0], 1400 : 1400 + symbol.shape[1]] = symbol

    code = only_code(read_in_regions(frame))

    assert (code.format, code.text, code.decoder) == ("qr", "SEAL:KZ1", "zbar")
    assert_near(centre(code), placed_centre(symbol, 1400, 300))


def test_a_light_on_dark_code_the_regions_miss_is_read_from_the_whole_frame() -> None:
    symbol = invert(render("datamatrix", "SEAL:KZ-1234567"))
    frame = large_frame([(symbol, 800, 400)], seed=1305)
    assert read_in_regions(frame) == []  # the regions skip inverted codes, for speed

    code = only_code(decode_image(frame))

    assert (code.format, code.text) == ("datamatrix", "SEAL:KZ-1234567")
    assert_near(centre(code), placed_centre(symbol, 800, 400))


def test_a_page_outline_is_no_region_as_large_as_the_page() -> None:
    frame = cv2.cvtColor(
        document_frame("qr", "", np.random.default_rng(1306), blank=True), cv2.COLOR_BGR2GRAY
    )

    regions = candidate_regions(frame)

    assert all((r.x1 - r.x0) * (r.y1 - r.y0) < frame.size / 10 for r in regions), regions
    assert decode_image(frame) == []


def read_in_regions(frame: Gray) -> list[DecodedCode]:
    """What the fast path alone reads: the regions, without the whole-frame pass."""
    return [
        DecodedCode(code.format, code.text, code.decoder, code.polygon)
        for code in read_regions(frame)
    ]


# --- what the text means ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VALID_MRN, Payload(PayloadKind.MRN, mrn=VALID_MRN)),
        ("MRN: 99it9876ab88901209", Payload(PayloadKind.MRN, mrn=VALID_MRN)),
        ("XA81234567", Payload(PayloadKind.TIR_CARNET, tir_carnet="XA81234567")),
        ("TIR XA 81234567", Payload(PayloadKind.TIR_CARNET, tir_carnet="XA81234567")),
        ("CMR:2024/0042", Payload(PayloadKind.CMR, cmr="2024/0042")),
        ("CMR123456", Payload(PayloadKind.CMR, cmr="123456")),
        ("SEAL=KZ-1234567", Payload(PayloadKind.SEAL, seals=("KZ-1234567",))),
        ("CSQU3054383", Payload(PayloadKind.CONTAINER, containers=("CSQU3054383",))),
        ("CONTAINER: CSQU 305438 3", Payload(PayloadKind.CONTAINER, containers=("CSQU3054383",))),
        ("CMRU1234563", Payload(PayloadKind.CONTAINER, containers=("CMRU1234563",))),
    ],
)
def test_one_identifier_keyed_or_by_its_shape(text: str, expected: Payload) -> None:
    assert parse_payload(text, "code128") == expected


def test_a_wrong_container_check_digit_is_an_invalid_payload_with_the_reason() -> None:
    payload = parse_payload("CSQU3054384", "code39")

    assert payload is not None
    assert not payload.valid
    assert payload.containers == ("CSQU3054384",)
    assert payload.problems == ("container: check digit is 4, expected 3",)


def test_a_wrong_mrn_check_character_is_an_invalid_payload_with_the_reason() -> None:
    payload = parse_payload("MRN:99IT9876AB88901208")

    assert payload == Payload(
        PayloadKind.MRN,
        mrn="99IT9876AB88901208",
        problems=("mrn: check character is 8, expected 9",),
    )


def test_mrn_check_character_follows_the_ncts_rule() -> None:
    assert mrn_error(VALID_MRN) is None
    # every other check character is wrong
    for wrong in "012345678ABZ":
        assert mrn_error(VALID_MRN[:17] + wrong) == f"check character is {wrong}, expected 9"
    # a remainder of 10 is written 0
    body = next(f"24KZ{n:013d}" for n in range(1000) if _iso6346_sum(f"24KZ{n:013d}") % 11 == 10)
    assert iso6346_check_digit(body) == 0
    assert mrn_error(body + "0") is None
    assert mrn_error("24KZ123") is not None


def _iso6346_sum(text: str) -> int:
    values = {c: v for v, c in enumerate("0123456789A")} | {
        c: 12 + i + i // 10 for i, c in enumerate("BCDEFGHIJKLMNOPQRSTUVWXYZ")
    }
    return sum(values[c] << position for position, c in enumerate(text))


def test_a_transit_qr_in_json_carries_mrn_carnet_and_seals() -> None:
    text = '{"mrn": "99IT9876AB88901209", "tir": "XA81234567", "seals": ["KZ1234567", "KZ1234568"]}'

    assert parse_payload(text, "qr") == Payload(
        PayloadKind.TRANSIT,
        mrn=VALID_MRN,
        tir_carnet="XA81234567",
        seals=("KZ1234567", "KZ1234568"),
    )


def test_a_key_value_payload_keeps_unknown_keys_and_names_each_bad_value() -> None:
    text = "MRN=99IT9876AB88901209;TIR=XA8123;SEALS=KZ1234567,X;CONTAINER=CSQU3054384;driver=Ivanov"

    payload = parse_payload(text, "pdf417")

    assert payload is not None
    assert payload.kind is PayloadKind.TRANSIT
    assert payload.mrn == VALID_MRN
    assert payload.seals == ("KZ1234567", "X")
    assert payload.extra == {"driver": "Ivanov"}
    assert [problem.split(":")[0] for problem in payload.problems] == [
        "tir_carnet",
        "seals[1]",
        "containers[0]",
    ]


def test_a_json_payload_with_a_number_for_a_seal_says_so() -> None:
    payload = parse_payload('{"seals": ["KZ1234567", 17]}', "qr")

    assert payload is not None
    assert payload.problems == ("seals[1]: expected text, got a number",)


def test_a_configured_seal_pattern_is_a_seal() -> None:
    patterns = [r"ELS:(?P<id>\d{7})", r"NX-\d{7}"]

    assert parse_payload("ELS:0012345", seal_patterns=patterns) == Payload(
        PayloadKind.SEAL, seals=("0012345",)
    )
    assert parse_payload("NX-0012345", seal_patterns=patterns) == Payload(
        PayloadKind.SEAL, seals=("NX-0012345",)
    )


@pytest.mark.parametrize(
    ("text", "format_name"),
    [
        ("4006381333931", "ean13"),  # goods, not documents
        ("hello", "qr"),
        ("https://example.org/track", "qr"),
        ('{"url": "https://example.org"}', "qr"),
        ("[1, 2]", "qr"),
        ("{not json", "qr"),
        ('{"mrn": "99IT9876AB88901209", "mrn": "24KZ0000000000000"}', "qr"),  # which one?
        ('{"seals": ["KZ1234567"], "tir": NaN}', "qr"),
        ("", "code128"),
        ("ABC12345678", "code39"),
    ],
)
def test_unknown_text_is_no_payload(text: str, format_name: str) -> None:
    assert parse_payload(text, format_name) is None


def test_payload_to_dict_is_what_a_barcode_reading_carries() -> None:
    payload = parse_payload("CSQU3054384")

    assert payload is not None
    assert payload.to_dict() == {
        "kind": "container",
        "valid": False,
        "containers": ["CSQU3054384"],
        "problems": ["container: check digit is 4, expected 3"],
    }


# --- carec-edge codes decode ---


def run_codes_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    codes_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["codes", *argv])
    status: int = args.handler(args, None)
    return status


def test_cli_prints_codes_and_payloads_as_json_and_names_the_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "tad.png"
    good.write_bytes(png_bytes(render("code128", VALID_MRN)))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(os.urandom(256))

    status = run_codes_cli("decode", str(bad), str(good))

    out, err = capsys.readouterr()
    assert status == 1
    assert "broken.jpg" in err
    assert "tad.png" not in err
    assert json.loads(out) == [
        {
            "image": str(good),
            "format": "code128",
            "text": VALID_MRN,
            "decoder": "zbar",
            "payload": {"kind": "mrn", "valid": True, "mrn": VALID_MRN},
        }
    ]


def test_cli_exits_zero_when_every_image_was_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "blank.png"
    empty.write_bytes(png_bytes(np.full((100, 100), 255, np.uint8)))

    assert run_codes_cli("decode", str(empty)) == 0
    assert json.loads(capsys.readouterr().out) == []
