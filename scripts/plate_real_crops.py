"""Real training crops for the plate reader, cut from the labelled photographs in ../shared the
way the pipeline cuts them, and straight from the label's box.

For each frame of a set's part (`drivers.plates.seeds.real_part`):
- the real detector and region builder at 640 and 1024 px, and every region that holds the
  label's box (`plate_frame_crops.holds_plate`) through the runtime's `line_image` (and its
  stretched twin): what the reader sees at work;
- the label's box itself with jittered margins: one line as it is, and a box squarer than
  TWO_LINE_ASPECT also split into its top and bottom line side by side, as `line_image` joins a
  stacked plate (the set's labels say which of the two reads as the label).
The cn-lprnet-crops are plate crops already.

A frame's crop is kept when one of the current reader's five readings can be aligned with its
label (`aligned`): a region that holds half a plate, a box split where the plate is not, or a
plate whose label is not what the frame shows is dropped. The label is the training label
(`drivers.sim.plates.plate_label`: Cyrillic look-alikes in Latin, Б Д Я Э Ө Ү kept).

Nothing here is copied anywhere: the crops live in memory for one training run. Run alone to
count what each set gives: `.venv/bin/python scripts/plate_real_crops.py`."""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from plate_frame_crops import holds_plate
from rapidfuzz.distance import LCSseq

from drivers.plates.dataset import labelled_images
from drivers.plates.plate_reader import PlateTextReader
from drivers.plates.regions import PlateRegion, line_image, plate_regions, stretched, widened
from drivers.plates.seeds import real_part
from drivers.plates.text_detector import TextDetector
from drivers.sim.plates import PLATE_CHARSET, plate_label

Grey = npt.NDArray[np.uint8]

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
# set name -> folder under SHARED, and the licence its README states
FRAME_SETS = {
    "cn-ccpd": ("plates-real-dev/cn-ccpd-frames", "CCPD 2019 test frames, MIT"),
    "kz": ("plates-real-dev/kz-frames", "dstaroff/russian-license-plate-recognition, GPL-3.0"),
    "mn": ("plates-real-dev/mn-frames", "gumbernator/Mongolian-ALPR, Apache-2.0"),
    "ru": ("plates-real-dev/ru-frames", "dstaroff/russian-license-plate-recognition, GPL-3.0"),
    "us": ("alpr-dev/us", "openalpr/benchmarks, AGPL-3.0"),
}
CROP_SETS = {
    "cn-lprnet": (
        "plates-real-dev/cn-lprnet-crops",
        "sirius-ai/LPRNet_Pytorch data/test, Apache-2.0 (CCPD-derived, MIT)",
    ),
}
SIDES = (640, 1024)  # the pipeline's first and second detection passes
REGIONS = 8
# The label's box is the plate's outline, the detector's text box can sit inside the plate's
# border: a region holds the plate with less of the box than a rendered plate's exact outline.
HOLDS = 0.6
# ... and the line it reads spans the box's width but this share at each end: a region that
# leaves out a Chinese plate's province character, or a Russian plate's region code, holds most
# of its area and would teach the reader to read a character that is not in its crop.
SPAN_SLACK = 0.03
TWO_LINE_ASPECT = 2.5  # a label box squarer than this may be a two-line plate
BOX_JITTERS = 3  # label-box crops a frame, each with its own margins
# A reading aligns with the label when it shares at least this share of the label's characters
# in order, and is about as long: half a plate reads short, another line reads other characters.
SHARED_CHARACTERS = 0.5
LENGTH_RATIO = (0.6, 1.25)  # a region with the make beside the plate reads long


@dataclass(frozen=True)
class RealCrop:
    crop: Grey
    label: str  # the training label (plate_label)
    source: str  # a key of FRAME_SETS or CROP_SETS
    plate: str  # the plate's key, for holding plates back
    kind: str  # "region", "box" or "crop"


@dataclass
class Tally:
    frames: int = 0
    offered: int = 0
    kept: int = 0
    off_charset: int = 0
    unaligned: int = 0

    def line(self) -> str:
        return (
            f"{self.frames} frames, {self.offered} crops offered, {self.kept} kept "
            f"({self.unaligned} not aligned with the label, {self.off_charset} off the charset)"
        )


def available(root: Path = SHARED) -> bool:
    return all((root / folder).is_dir() for folder, _ in FRAME_SETS.values())


def box_quad(x: float, y: float, w: float, h: float) -> npt.NDArray[np.float32]:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)


def label_box_regions(
    box: tuple[int, int, int, int], rng: random.Random, jittered: bool = True
) -> list[PlateRegion]:
    """The label's box as the regions the pipeline would form of it: one line, and for a
    squarish box also its two lines (top and bottom half, a little overlap); with `jittered`,
    each side moved by up to 8% of the box's height. `line_image` adds its own margin, so the
    box is first shrunk by about that margin."""
    x, y, w, h = (float(v) for v in box)
    spread = 0.08 if jittered else 0.0

    def j() -> float:
        return rng.uniform(-spread, spread) * h

    inset = 0.12 * h  # the plate's border, which the detector's text box leaves out
    x0, x1 = x + inset + j(), x + w - inset + j()
    y0, y1 = y + 0.08 * h + j(), y + h - 0.08 * h + j()
    regions = [PlateRegion((box_quad(x0, y0, x1 - x0, y1 - y0),), 1.0)]
    if w / max(h, 1.0) < TWO_LINE_ASPECT:
        middle = y0 + (y1 - y0) * (0.5 + (rng.uniform(-0.04, 0.04) if jittered else 0.0))
        top = box_quad(x0, y0, x1 - x0, middle - y0 + 0.04 * h)
        bottom = box_quad(x0, middle - 0.04 * h, x1 - x0, y1 - middle + 0.04 * h)
        regions.append(PlateRegion((top, bottom), 1.0))
    return regions


def frame_candidates(
    detector: TextDetector,
    frame: npt.NDArray[np.uint8],
    box: tuple[int, int, int, int],
    rng: random.Random,
    regions: bool = True,
    jitters: int = BOX_JITTERS,
) -> list[tuple[Grey, str]]:
    """Grey line crops of one frame's plate: (crop, kind)."""  # fmt: skip
    out: list[tuple[Grey, str]] = []
    plate = box_quad(*box)
    if regions:
        for side in SIDES:
            for region in plate_regions(detector.detect(frame, side), REGIONS):
                if not holds_plate(region, plate, holds=HOLDS) or not spans(region, box):
                    continue
                variants = [region] + ([stretched(region)] if len(region.lines) == 1 else [])
                out += [(_grey(line_image(frame, v)), "region") for v in variants]
    for index in range(jitters):
        for region in label_box_regions(box, rng, jittered=index > 0):
            out.append((_grey(line_image(frame, region)), "box"))
    return out


def spans(region: PlateRegion, box: tuple[int, int, int, int]) -> bool:
    """Whether the line `line_image` cuts of the region reaches both ends of the label box."""
    points = np.concatenate([widened(quad) for quad in region.lines])
    x, _, w, _ = box
    return bool(
        points[:, 0].min() <= x + SPAN_SLACK * w <= x + (1 - SPAN_SLACK) * w <= points[:, 0].max()
    )


def aligned(reading: str, label: str) -> bool:
    """Whether the reading can be the label misread: most of the label's characters in order,
    and a length near the label's. A crop of half the plate or of the wrong lines cannot."""
    shortest, longest = (ratio * len(label) for ratio in LENGTH_RATIO)
    if not shortest <= len(reading) <= longest + 1:
        return False
    return LCSseq.similarity(reading, label) >= SHARED_CHARACTERS * len(label)


def real_crops(
    part: str,
    root: Path = SHARED,
    reader: PlateTextReader | None = None,
    seed: int = 0,
    regions: bool = True,
    jitters: int = BOX_JITTERS,
    check: bool = True,
) -> tuple[list[RealCrop], dict[str, Tally]]:
    """The real crops of `part` ("tune" or "report") of every set, and a tally a set. With
    `check`, only crops whose reading by `reader` (default: the shipped model) aligns with
    their label."""  # fmt: skip
    detector = TextDetector() if regions else None
    reader = reader or PlateTextReader(k=5)
    rng = random.Random(f"real crops:{seed}")
    crops: list[RealCrop] = []
    tallies: dict[str, Tally] = {}
    for name, (folder, _) in {**FRAME_SETS, **CROP_SETS}.items():
        tally = tallies.setdefault(name, Tally())
        offered: list[RealCrop] = []
        for image, note in labelled_images(root / folder):
            if real_part(note.plate) != part:
                continue
            tally.frames += 1
            label = plate_label(note.plate)
            if any(ch not in PLATE_CHARSET for ch in label):
                tally.off_charset += 1
                continue
            frame = _read(image)
            if frame is None:
                raise OSError(f"{image}: OpenCV cannot read it")
            key = note.plate
            if name in CROP_SETS:
                offered.append(RealCrop(_grey(frame), label, name, key, "crop"))
                continue
            box = (note.x, note.y, note.width, note.height)
            assert detector is not None or not regions
            found = frame_candidates(detector, frame, box, rng, regions, jitters)  # type: ignore[arg-type]
            offered += [RealCrop(crop, label, name, key, kind) for crop, kind in found]
        tally.offered = len(offered)
        # a crop set's crop is its plate whole: only frames' crops can miss part of it
        kept = _aligned(offered, reader) if check and name in FRAME_SETS else offered
        tally.unaligned = len(offered) - len(kept)
        tally.kept = len(kept)
        crops += kept
    return crops, tallies


# Sets whose plates can have two lines: a squarish label box there is read as two lines.
TWO_LINE_SETS = ("kz", "mn", "ru")


def report_crops(root: Path = SHARED) -> list[RealCrop]:
    """One crop a frame of every set's reporting part, from the label's box without jitter
    (as two lines where the set has two-line plates and the box is squarish), and the crop
    sets' reporting crops: what the reader's held-out figures are read on. Not checked
    against any reading."""
    rng = random.Random(0)
    out = []
    for name, (folder, _) in {**FRAME_SETS, **CROP_SETS}.items():
        for image, note in labelled_images(root / folder):
            label = plate_label(note.plate)
            if real_part(note.plate) != "report" or any(ch not in PLATE_CHARSET for ch in label):
                continue
            frame = _read(image)
            if frame is None:
                raise OSError(f"{image}: OpenCV cannot read it")
            if name in CROP_SETS:
                out.append(RealCrop(_grey(frame), label, name, note.plate, "crop"))
                continue
            box = (note.x, note.y, note.width, note.height)
            regions = label_box_regions(box, rng, jittered=False)
            region = regions[-1] if name in TWO_LINE_SETS else regions[0]
            out.append(RealCrop(_grey(line_image(frame, region)), label, name, note.plate, "box"))
    return out


def _aligned(crops: list[RealCrop], reader: PlateTextReader) -> list[RealCrop]:
    kept = []
    for start in range(0, len(crops), 64):
        chunk = crops[start : start + 64]
        for crop, found in zip(chunk, reader.read([c.crop for c in chunk]), strict=True):
            if any(aligned(text, crop.label) for text, _ in found):
                kept.append(crop)
    return kept


def _read(path: Path) -> npt.NDArray[np.uint8] | None:
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if frame is None else np.asarray(frame, np.uint8)


def _grey(image: npt.NDArray[np.uint8]) -> Grey:
    if image.ndim == 2:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)


def main() -> None:
    cv2.setNumThreads(1)
    if not available():
        sys.exit(f"{SHARED}: the real sets are not here")
    crops, tallies = real_crops("tune")
    for name, tally in tallies.items():
        kinds = Counter(c.kind for c in crops if c.source == name)
        print(f"{name}: {tally.line()}; kept by kind {dict(kinds)}")


if __name__ == "__main__":
    main()
