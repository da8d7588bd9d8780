"""A real camera's degradations of a plate crop, for training the reader: each one changes the
crop the way its name says and keeps its size, and the codec pool hands every crop back through
a real H.264 or H.265 encoder."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from drivers.sim import camera_degradation as cam
from drivers.sim.plates import training_crop

ALL = [degradation for degradation, _ in cam.DEGRADATIONS]


def _plate(seed: int = 1) -> np.ndarray:
    crop, _ = training_crop(random.Random(seed), height=48, strength=0.0)
    return crop


def _sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(image.astype(np.float32), cv2.CV_32F).var())


@pytest.mark.parametrize("degradation", ALL, ids=[d.__name__ for d in ALL])
def test_every_degradation_keeps_a_grey_or_colour_crops_size(degradation: cam.Degradation) -> None:
    grey = _plate()
    colour = np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
    for image in (grey, colour):
        out = degradation(image, np.random.default_rng(3))
        assert out.shape == image.shape
        assert out.dtype == np.uint8


def test_blur_motion_and_low_resolution_take_the_strokes_edges_away() -> None:
    plate = _plate()
    for degradation in (cam.motion_blur, cam.defocus, cam.low_resolution):
        out = degradation(plate, np.random.default_rng(5))
        assert _sharpness(out) < 0.8 * _sharpness(plate), degradation.__name__


def test_infrared_night_is_bright_and_flat() -> None:
    plate = _plate()
    night = cam.infrared_night(plate, np.random.default_rng(2))
    assert float(night.mean()) > float(plate.mean()) - 10
    assert int(np.percentile(night, 99)) - int(np.percentile(night, 1)) < int(plate.max()) - int(
        plate.min()
    )


def test_dirt_darkens_part_of_the_plate() -> None:
    plate = np.full((48, 200), 230, np.uint8)
    out = cam.dirt(plate, np.random.default_rng(4))
    assert out.min() < 200
    assert out.max() >= 225


def test_no_strength_no_degradation_and_a_seed_gives_the_same_crop() -> None:
    plate = _plate()
    assert np.array_equal(cam.degrade(plate, np.random.default_rng(1), strength=0.0), plate)
    once = cam.degrade(plate, np.random.default_rng(9))
    again = cam.degrade(plate, np.random.default_rng(9))
    assert np.array_equal(once, again)


def test_the_card_names_every_degradation() -> None:
    text = cam.describe()
    assert all(d.__name__.replace("_", " ") in text for d in ALL)


@pytest.mark.parametrize("codec", cam.CODECS)
def test_the_codec_pool_returns_every_crop_through_the_encoder(codec: str) -> None:
    crops = [_plate(seed) for seed in range(30)]
    too_big = np.zeros((500, 900), np.uint8)
    out = cam.codec_pool([*crops, too_big], np.random.default_rng(0), codec)
    assert out[-1] is too_big
    for crop, coded in zip(crops, out, strict=False):
        assert coded.shape == crop.shape
        assert coded.dtype == np.uint8
        difference = np.abs(coded.astype(int) - crop).mean()
        assert 0 < difference < 30  # changed by the codec, still the same plate
