"""Hostile and clumsy inputs to the device commands (`mrz check`, `codes decode`, `plates
read`): each gets a message naming its source, never a traceback, in bounded memory, and the
good inputs of the same command are still read."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import pytest

from tests.fixtures.rendered_codes import on_canvas, render
from tests.hostile.cli import MEMORY_BOUND_MB, carec_edge


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def gray_png(width: int, height: int) -> bytes:
    """A black gray PNG, compressed as well as zlib can: 20000x20000 takes 389 KB."""
    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # a filter byte and the row
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        (_png_chunk(b"IHDR", header), _png_chunk(b"IDAT", idat), _png_chunk(b"IEND", b""))
    )


def header_only_png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("images") / "bomb.png"
    path.write_bytes(gray_png(20_000, 20_000))
    return path


@pytest.fixture
def qr_image(tmp_path: Path) -> Path:
    path = tmp_path / "qr.png"
    assert cv2.imwrite(str(path), on_canvas(render("qr", "HOSTILE-TEST-1")))
    return path


def test_mrz_check_reads_no_more_of_an_endless_stdin_than_an_mrz_needs() -> None:
    run = carec_edge("mrz", "check", stdin=Path("/dev/zero"))
    run.assert_clean_failure()
    assert run.status == 1
    assert json.loads(run.out) == {"valid": False, "error": "stdin: more than 4096 bytes, no MRZ"}
    assert run.peak_mb < MEMORY_BOUND_MB


def test_mrz_check_names_stdin_that_is_not_text(tmp_path: Path) -> None:
    latin1 = tmp_path / "mrz.txt"
    latin1.write_bytes("P<KAZIVANOV<<IVAN\xe9\n".encode("latin-1"))
    run = carec_edge("mrz", "check", stdin=latin1)
    run.assert_clean_failure()
    assert json.loads(run.out) == {"valid": False, "error": "stdin: not UTF-8 text (byte 17)"}


def test_codes_decode_names_each_bad_file_and_reads_the_good_one(
    tmp_path: Path, bomb: Path, qr_image: Path
) -> None:
    huge_header = tmp_path / "header.png"
    huge_header.write_bytes(header_only_png(40_000, 40_000))
    run = carec_edge("codes", "decode", "/dev/zero", str(bomb), str(huge_header), str(qr_image))
    run.assert_clean_failure()
    assert run.status == 1
    assert "carec-edge codes: /dev/zero: not a regular file" in run.err
    assert f"carec-edge codes: {bomb}: its header declares" in run.err
    assert f"carec-edge codes: {huge_header}: its header declares" in run.err
    assert [(c["image"], c["text"]) for c in json.loads(run.out)] == [
        (str(qr_image), "HOSTILE-TEST-1")
    ]
    assert run.peak_mb < MEMORY_BOUND_MB


def test_plates_read_refuses_a_small_file_declaring_a_huge_image(
    tmp_path: Path, bomb: Path
) -> None:
    assert bomb.stat().st_size < 400_000
    huge_header = tmp_path / "header.png"
    huge_header.write_bytes(header_only_png(40_000, 40_000))  # OpenCV raised on this one
    run = carec_edge("plates", "read", str(bomb), str(huge_header), "/dev/zero")
    run.assert_clean_failure()
    assert run.status == 1
    assert f"{bomb}: its header declares 20000x20000 pixels, more than 40000000" in run.err
    assert f"{huge_header}: its header declares" in run.err
    assert "/dev/zero: not a regular file" in run.err
    assert run.peak_mb < MEMORY_BOUND_MB


@pytest.mark.parametrize(
    ("crops", "reason"),
    [("{file}", "File exists"), ("{file}/crops", "Not a directory"), ("/sys/kernel", "")],
    ids=["a-file", "under-a-file", "read-only"],
)
def test_plates_read_refuses_crops_it_cannot_save_before_any_work(
    tmp_path: Path, qr_image: Path, crops: str, reason: str
) -> None:
    a_file = tmp_path / "plain-file"
    a_file.write_text("x\n")
    crops = crops.format(file=a_file)
    run = carec_edge("plates", "read", "--crops", crops, str(qr_image))
    run.assert_clean_failure()
    assert run.status == 2
    assert run.err.startswith(f"carec-edge plates: --crops {crops}: {reason}")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--detector-side", "0"), ("--detector-side", "100000"), ("--second-pass-side", "-1")],
)
def test_plates_options_take_what_the_config_takes(qr_image: Path, option: str, value: str) -> None:
    run = carec_edge("plates", "read", option, value, str(qr_image))
    run.assert_clean_failure()
    assert run.status == 2
    assert run.err.startswith(f"carec-edge plates: {option} {value}: Input should be")
