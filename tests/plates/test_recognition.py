"""Generated plates of every country of the corridor are read, in both scripts: the text as
written on the plate (Cyrillic where the plate is Cyrillic) and the country its format tells."""

from __future__ import annotations

import random

import numpy as np
import pytest

from drivers.plates.ranking import plate_key
from drivers.plates.recognizer import PlateRecognizer, RecognizerSettings
from drivers.sim.plates import render_scene
from edge.plate_formats import formats_for

COUNTRIES = ("KZ", "KG", "UZ", "TJ", "AZ", "RU", "MN", "CN")
PER_COUNTRY = 12
# A floor that catches a broken pipeline; the accuracy itself is measured by
# tests/bench/bench_plates.py (`make bench`) on a larger set, not asserted here.
AT_LEAST = 8
SEED = 4242  # not a training seed: scripts/train_plate_reader.py draws its own


@pytest.fixture(scope="module")
def recognizer() -> PlateRecognizer:
    reader = PlateRecognizer()
    assert reader.own is not None, "the project's plate reader model is not in the repo"
    assert reader.plate_detector is not None, "the plate detector model is not in the repo"
    return reader


@pytest.mark.parametrize("country", COUNTRIES)
def test_generated_plates_of_each_country_are_read(
    recognizer: PlateRecognizer, country: str
) -> None:
    rng = random.Random(f"{SEED}:{country}")
    right = countries = 0
    misses = []
    for _ in range(PER_COUNTRY):
        fmt = rng.choice(formats_for(country))
        text = fmt.random_plate(rng)
        frame, _ = render_scene(text, fmt, rng, strength=rng.uniform(0.0, 0.6))
        candidates = recognizer.read(frame).candidates
        best = candidates[0].guess if candidates else None
        if best is not None and best.key == plate_key(text):
            right += 1
            countries += best.country == country or country in ("KG", "UZ")  # shared shapes
        else:
            misses.append((text, best.written if best else None))
    print(f"{country}: {right}/{PER_COUNTRY} read exactly; misses {misses}")
    assert right >= AT_LEAST, misses
    assert countries == right


def test_a_mongolian_plate_is_written_in_cyrillic_with_its_own_letters(
    recognizer: PlateRecognizer,
) -> None:
    (fmt,) = formats_for("MN")
    rng = random.Random(SEED)
    frame, _ = render_scene("1234 БӨШ", fmt, rng, strength=0.1, two_line=False)
    best = recognizer.read(frame).candidates[0].guess
    assert best.written == "1234 БӨШ"  # letters no Latin reader has
    assert best.country == "MN"


def test_a_chinese_plate_keeps_its_province_character(recognizer: PlateRecognizer) -> None:
    fmt = formats_for("CN", "vehicle")[0]
    frame, _ = render_scene("京A·12345", fmt, random.Random(SEED), strength=0.1, two_line=False)
    best = recognizer.read(frame).candidates[0].guess
    assert (best.written, best.country) == ("京A·12345", "CN")


def test_every_plate_in_a_frame_is_reported(recognizer: PlateRecognizer) -> None:
    """Two vehicles side by side (a truck and the car in the next lane): both plates are found,
    each with its own candidates and box, and the frame's candidates hold both."""
    rng = random.Random(f"{SEED}:two")
    texts, frames = [], []
    for country in ("KZ", "RU"):
        fmt = formats_for(country, "vehicle")[0]
        text = fmt.random_plate(rng)
        frame, _ = render_scene(text, fmt, rng, strength=0.1, two_line=False)
        texts.append(plate_key(text))
        frames.append(frame)
    height = min(f.shape[0] for f in frames)
    both = np.ascontiguousarray(np.hstack([f[:height] for f in frames]))
    result = recognizer.read(both)
    found = [plate.candidates[0].guess.key for plate in result.plates]
    assert sorted(found) == sorted(texts), found
    left, right = sorted(result.plates, key=lambda p: p.box[0])
    assert left.box[0] + left.box[2] <= frames[0].shape[1] <= right.box[0]
    assert {c.guess.key for c in result.candidates} >= set(texts)


def test_without_the_plate_detector_the_whole_frame_is_searched() -> None:
    recognizer = PlateRecognizer(RecognizerSettings(use_plate_detector=False))
    assert recognizer.plate_detector is None
    fmt = formats_for("KZ", "vehicle")[0]
    rng = random.Random(f"{SEED}:whole")
    text = fmt.random_plate(rng)
    frame, _ = render_scene(text, fmt, rng, strength=0.1, two_line=False)
    result = recognizer.read(frame)
    assert result.plates == ()
    assert result.candidates[0].guess.key == plate_key(text)
    assert "plates" not in result.timings_ms
