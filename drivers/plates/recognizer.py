"""One frame in, ranked plate candidates out: find the plates, and in a window around each
detect text, form plate regions, rectify, read each region with both readers, rank the reads
against the format grammars. Every plate found is reported with its own candidates.

The plate detector (drivers/plates/plate_detector.py, trained here) says where the plates are;
without its model, or when no plate it found reads as one, the text detector searches the whole
frame as before it existed.

PP-OCR's recogniser was trained on real photographs (Latin, digits, Chinese); the project's
own reader was trained on the corridor's plates (Cyrillic included). Both read every likely
region and their reads are pooled, so each covers the other's blind spots."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from drivers.plates.calibration import Calibration, load_calibration
from drivers.plates.plate_detector import PlateBox, PlateDetector
from drivers.plates.plate_reader import PlateTextReader
from drivers.plates.plate_windows import PlateWindow, plate_window
from drivers.plates.ppocr_reader import PpocrReader
from drivers.plates.ranking import PlateGuess, Read, plate_key, rank
from drivers.plates.regions import (
    PlateRegion,
    line_image,
    plate_likeness,
    plate_regions,
    region_image,
    stretched,
    with_line_above,
)
from drivers.plates.text_detector import BGR, DetectorSettings, TextDetector
from edge.plate_formats import (
    bottom_line_formats,
    latin_writing,
    match_formats,
    match_visitor_formats,
)

logger = logging.getLogger(__name__)

# Ablations below (issue 13, plate detector + retrained reader, 240 px plate windows; the
# windows are 180 px now, plate_windows.py): scripts/plate_ablation.py on
# the real sets' tuning part, Top-1 as is: RU 0.944 (36 frames), KZ 0.90 (10: a frame is 0.1),
# MN 0.80 (15: a frame is 0.067), CN 0.884 (69), US 0.754 (118). Two runs of it differ by up
# to 25% in CPU median, so CPU is named only where it moved beyond that.
# PP-OCR's read of a region our reader reads as a Cyrillic plate counts this much. Ablation:
# off (=1.0) or ignored (=0) -> Top-1 and Top-5 unchanged on every set: gains nothing
# measurable on real photographs; kept for a Cyrillic plate our reader is unsure of.
BLIND_TO_CYRILLIC = 0.3
# Ablation: never found (=1.01: lines above and stretched lines always read, PP-OCR on two
# regions) -> Top-1 unchanged on every set, US with O as 0 0.771 -> 0.780; CPU within noise.
FOUND = 0.5  # a corridor plate read this probably: one PP-OCR read is a second opinion enough
# Ablation: at 0.1 -> Top-1 US 0.754 -> 0.746 (one frame), the rest unchanged; at 0.4 -> unchanged.
MEANT = 0.2  # a read this probable says what kind of plate a region holds
# Ablation: off (=1.0) -> Top-1 and Top-5 unchanged on every set: gains nothing measurable on
# real photographs; kept for a tanker's ADR panel read as a plate of no known format.
HAZARD_PANEL = 0.1  # no plate of the corridor or its visitors is two lines of digits only
# Ablation: off (=0) -> Top-1 RU 0.944 -> 0.889, CN 0.884 -> 0.899 (one frame); Top-5 RU
# 0.972 -> 0.889, CN 0.928 -> 0.899. At 1: US 0.754 -> 0.746; at 4: unchanged.
STRETCHED = 2  # the likeliest regions read again stretched, when no plate is sure yet
# A frame whose found plates all read worse than this is searched whole by the text detector
# as well: the plate detector may have missed the plate, or boxed something else. Ablation on
# the real sets' tuning part (scripts/plate_ablation.py, 248 frames; 240 px windows, every box
# read): at 0.05 instead, Top-1 MN 0.80 -> 0.73 and US 0.73 -> 0.72, the rest unchanged.
SEARCH_WHOLE_BELOW = 0.2
# Besides the likeliest, a plate the detector is less sure of than this is not read: its boxes
# below it are mostly other writing (2.5-4.4 boxes a real frame). Ablation as above, against
# reading every box: Top-1 unchanged on RU, KZ, MN, CN, US +0.025; CPU median 20-30% lower.
OTHER_PLATES_FROM = 0.8


@dataclass(frozen=True)
class RecognizerSettings:
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    regions: int = 8  # regions read by the project's reader (cheap)
    ppocr_regions: int = 2  # of those, the likeliest also read by PP-OCR (dearer)
    candidates: int = 5
    crop_height: int = 64  # the crop kept with a candidate, for the officer's screen
    use_own_reader: bool = True
    use_ppocr: bool = True
    # PP-OCR is skipped when the project's reader read a corridor plate this surely (1: never).
    sure_probability: float = 0.9
    # When the first pass finds no candidate this sure, the frame is searched again at this
    # larger scale for small, distant plates (0: never).
    settled_score: float = 0.2
    second_pass_side: int = 1024
    # Where the project's reader's model is (None: the one shipped in drivers/plates/models).
    reader_models: Path | None = None
    # Plates are found by the plate detector and read in a window each (False: the text
    # detector searches the whole frame, the pipeline before the plate detector).
    use_plate_detector: bool = True
    plates: int = 3  # plates read a frame, the detector's likeliest first
    plate_detector_models: Path | None = None
    # Candidates' confidences calibrated on real photographs (drivers/plates/calibration.py);
    # False: the readers' probabilities as they are (what the calibration is fitted on).
    calibrate: bool = True


@dataclass(frozen=True)
class Candidate:
    guess: PlateGuess
    box: tuple[int, int, int, int]  # x, y, w, h of its region in the frame
    crop_jpeg: bytes  # the rectified region it was read from


@dataclass(frozen=True)
class FoundPlate:
    box: tuple[int, int, int, int]  # x, y, w, h of the detector's box in the frame
    score: float  # the detector's
    candidates: tuple[Candidate, ...]  # best first


@dataclass(frozen=True)
class FrameResult:
    candidates: tuple[Candidate, ...]  # best first, of every plate of the frame
    timings_ms: dict[str, float] = field(default_factory=dict)
    plates: tuple[FoundPlate, ...] = ()  # every plate found and read, the best read first


class PlateRecognizer:
    def __init__(self, settings: RecognizerSettings | None = None) -> None:
        self.settings = settings or RecognizerSettings()
        self.detector = TextDetector(self.settings.detector)
        self.ppocr = PpocrReader() if self.settings.use_ppocr else None
        self.own = (
            _own_reader(self.settings.reader_models) if self.settings.use_own_reader else None
        )
        self.calibration = load_calibration() if self.settings.calibrate else Calibration()
        self.plate_detector = (
            _plate_detector(self.settings.plate_detector_models)
            if self.settings.use_plate_detector
            else None
        )

    def read(self, frame: BGR) -> FrameResult:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            shape = f"{frame.dtype} {frame.shape}"
            raise ValueError(f"a frame must be BGR uint8 (height, width, 3), not {shape}")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        plates: list[FoundPlate] = []
        if self.plate_detector is not None:
            at = time.perf_counter()
            boxes = self.plate_detector.detect(frame)[: self.settings.plates]
            boxes = boxes[:1] + [box for box in boxes[1:] if box.score >= OTHER_PLATES_FROM]
            _add(timings, "plates", at)
            plates = [self._read_plate(frame, box, timings) for box in boxes]
            plates = sorted((p for p in plates if p.candidates), key=_best_score, reverse=True)
        candidates: tuple[Candidate, ...] = ()
        if not plates or _best_score(plates[0]) < SEARCH_WHOLE_BELOW:
            # no plate found reads as one: the text detector searches the whole frame
            candidates = self._whole_frame(frame, timings)
        candidates = _merged(
            [p.candidates for p in plates] + [candidates], self.settings.candidates
        )
        timings["total"] = _ms_since(started)
        return FrameResult(candidates, timings, tuple(plates))

    def _read_plate(self, frame: BGR, box: PlateBox, timings: dict[str, float]) -> FoundPlate:
        """The plate in `box` read in its window: its lines found by the text detector there."""
        window = plate_window(frame, box.quad)
        regions, reads = self._search(window.image, self.settings.detector.max_side, timings)
        guesses = rank((read for _, read in reads), self.settings.candidates)
        crops: dict[int, bytes] = {}
        candidates = tuple(
            self._candidate(window.image, regions, guess, crops, window) for guess in guesses
        )
        x, y, w, h = cv2.boundingRect(box.quad.astype(np.float32))
        return FoundPlate((x, y, w, h), round(box.score, 4), candidates)

    def _whole_frame(self, frame: BGR, timings: dict[str, float]) -> tuple[Candidate, ...]:
        """Candidates from text found anywhere in the frame, searched again at a larger scale
        when nothing read is plate-like enough."""
        regions, reads = self._search(frame, self.settings.detector.max_side, timings)
        guesses = rank((read for _, read in reads), self.settings.candidates)
        settled = guesses and guesses[0].score >= self.settings.settled_score
        if not settled and self.settings.second_pass_side > self.settings.detector.max_side:
            more_regions, more_reads = self._search(frame, self.settings.second_pass_side, timings)
            offset = len(regions)
            reads += [
                (offset + index, replace(read, region=offset + index)) for index, read in more_reads
            ]
            regions += more_regions
            guesses = rank((read for _, read in reads), self.settings.candidates)
        crops: dict[int, bytes] = {}  # one crop a region, however many candidates it gave
        return tuple(self._candidate(frame, regions, guess, crops) for guess in guesses)

    def _search(
        self, frame: BGR, side: int, timings: dict[str, float]
    ) -> tuple[list[PlateRegion], list[tuple[int, Read]]]:
        """One pass: the regions found at this scale, and every read of them."""
        at = time.perf_counter()
        regions = plate_regions(self.detector.detect(frame, side), self.settings.regions)
        _add(timings, "detect", at)
        lines = [line_image(frame, region) for region in regions]
        reads: list[tuple[int, Read]] = []
        if self.own is not None and lines:
            at = time.perf_counter()
            for index, found in enumerate(self.own.read(lines)):
                reads += _reads(index, regions[index], found, "own")
            _add(timings, "own", at)
        best = rank((read for _, read in reads), 1)  # the project's reader's answer so far
        above: list[int] = []  # Chinese top lines looked for: PP-OCR reads Han well, ours less
        if self.own is not None and not _found(best):
            at = time.perf_counter()
            first = len(regions)
            tops, chinese = self._read_lines_above(frame, regions, reads)
            lines += tops
            above = [first + k for k in chinese]
            lines += self._read_stretched(frame, regions, reads)
            _add(timings, "own", at)
            best = rank((read for _, read in reads), 1)
        if self.ppocr is not None and lines and not self._sure(best):
            at = time.perf_counter()
            # the project's reader ranks the regions; without it PP-OCR must read them all
            limit = self.settings.ppocr_regions if self.own is not None else len(lines)
            if _found(best):
                limit = 1  # a second opinion on that plate is enough
            chosen = _likeliest(len(lines), reads)[:limit]
            chosen += [i for i in above if i not in chosen]
            cyrillic = _cyrillic_plates(reads)
            for index, found in zip(
                chosen, self.ppocr.read([lines[i] for i in chosen]), strict=True
            ):
                # PP-OCR has no Cyrillic: its read of such a plate is Latin and Greek
                # look-alikes, not evidence
                blind = BLIND_TO_CYRILLIC if index in cyrillic else 1.0
                reads += _reads(index, regions[index], found, "ppocr", blind)
            _add(timings, "ppocr", at)
        return regions, reads

    def _read_lines_above(
        self, frame: BGR, regions: list[PlateRegion], reads: list[tuple[int, Read]]
    ) -> tuple[list[BGR], list[int]]:
        """Where a line reads as the bottom line of a square plate, the line with the place of
        its top line is read too (appended to `regions` and `reads`): the detector can miss a
        top line, or box it with a sign above it. Their line images, and which of them (as
        positions in that list) are Chinese."""
        added: dict[tuple[int, bool], PlateRegion] = {}
        for i, read in reads:
            if read.reader != "own" or read.probability < MEANT or len(regions[i].lines) > 1:
                continue
            for fmt in bottom_line_formats(plate_key(read.text)):
                as_tall = fmt.country != "CN"  # a Chinese top line is smaller
                if (i, as_tall) not in added:
                    added[i, as_tall] = with_line_above(regions[i], as_tall=as_tall)
        lines = self._read_more(frame, list(added.values()), regions, reads)
        return lines, [k for k, (_, as_tall) in enumerate(added) if not as_tall]

    def _read_stretched(
        self, frame: BGR, regions: list[PlateRegion], reads: list[tuple[int, Read]]
    ) -> list[BGR]:
        """The likeliest one-line regions read again stretched at both ends (appended to
        `regions` and `reads`)."""
        chosen = [
            i for i in _likeliest(len(regions), reads)[:STRETCHED] if len(regions[i].lines) == 1
        ]
        added = [stretched(regions[i]) for i in chosen]
        # only what then fits a known format as read counts: a stretched line takes in a
        # plate frame's writing (a US state's name) as readily as a region code
        return self._read_more(frame, added, regions, reads, keep=_fits_known_format)

    def _read_more(
        self,
        frame: BGR,
        added: list[PlateRegion],
        regions: list[PlateRegion],
        reads: list[tuple[int, Read]],
        keep: Callable[[str], bool] | None = None,
    ) -> list[BGR]:
        """Read `added` regions with the project's reader, appending them to `regions` and
        their reads (those `keep` accepts) to `reads`; their line images, in order."""
        if self.own is None or not added:
            return []
        lines = [line_image(frame, region) for region in added]
        for region, found in zip(added, self.own.read(lines), strict=True):
            regions.append(region)
            kept = [(text, p) for text, p in found if keep is None or keep(text)]
            reads += _reads(len(regions) - 1, region, kept, "own")
        return lines

    def _sure(self, best: list[PlateGuess]) -> bool:
        """Whether the project's reader alone has read a corridor plate beyond doubt, so the
        dearer second opinion can be skipped."""
        if self.settings.sure_probability >= 1.0:
            return False
        return bool(
            best
            and best[0].format is not None
            and best[0].confidence >= self.settings.sure_probability
        )

    def _candidate(
        self,
        frame: BGR,
        regions: list[PlateRegion],
        guess: PlateGuess,
        crops: dict[int, bytes],
        window: PlateWindow | None = None,  # `frame` is this window of the frame
    ) -> Candidate:
        region = regions[guess.region]
        guess = replace(guess, confidence=self.calibration(guess.confidence))
        quad = region.quad if window is None else window.to_frame(region.quad)
        x, y, w, h = cv2.boundingRect(quad.astype(np.float32))
        if guess.region not in crops:
            crop = region_image(frame, region, self.settings.crop_height)
            ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 80])
            crops[guess.region] = jpeg.tobytes() if ok else b""
        return Candidate(guess, (x, y, w, h), crops[guess.region])


def _best_score(plate: FoundPlate) -> float:
    return plate.candidates[0].guess.score if plate.candidates else 0.0


def _merged(lists: list[tuple[Candidate, ...]], k: int) -> tuple[Candidate, ...]:
    """The candidates of several plates (and of the whole frame) as one list, best score
    first, each text once (where it scored best)."""
    pooled = sorted((c for found in lists for c in found), key=lambda c: -c.guess.score)
    seen: set[str] = set()
    merged = []
    for candidate in pooled:
        if candidate.guess.key not in seen:
            seen.add(candidate.guess.key)
            merged.append(candidate)
    return tuple(merged[:k])


def _found(best: list[PlateGuess]) -> bool:
    """Whether the best guess so far is a plate of a known format read at least FOUND surely."""
    return bool(best and best[0].format is not None and best[0].confidence >= FOUND)


def _reads(
    index: int,
    region: PlateRegion,
    found: list[tuple[str, float]],
    reader: str,
    factor: float = 1.0,
) -> list[tuple[int, Read]]:
    """A reader's texts of region `index`, each with its prior: the region's shape and the text."""
    likeness = plate_likeness(region) * factor
    return [
        (index, Read(text, p, reader, read_prior(region, text, likeness), index))
        for text, p in found
    ]


def read_prior(region: PlateRegion, text: str, likeness: float) -> float:
    """How plate-like a read of a region is: its shape's likeness, and far less for two lines
    of digits only, the orange ADR panel of a tanker (a hazard code over a UN number)."""
    if len(region.lines) > 1 and "".join(text.split()).isdigit():
        return likeness * HAZARD_PANEL
    return likeness


def _fits_known_format(text: str) -> bool:
    return bool(match_formats(text) or match_visitor_formats(text))


def _cyrillic_plates(reads: list[tuple[int, Read]]) -> set[int]:
    """The regions whose likeliest read by the project's reader is a plate written in
    Cyrillic (Mongolian, Russian style)."""
    found = set()
    for index in {i for i, _ in reads}:
        best = rank((read for i, read in reads if i == index and read.reader == "own"), 1)
        if best and best[0].format is not None and best[0].confidence >= MEANT:
            cyrillic = best[0].written != latin_writing(best[0].written)
            if cyrillic:
                found.add(index)
    return found


def _likeliest(count: int, reads: list[tuple[int, Read]]) -> list[int]:
    """Region indexes, those whose reads so far look most like a plate first; the detector's
    order (its own plate prior) breaks ties and orders regions nobody read yet."""
    best = [0.0] * count
    for index, read in reads:
        for guess in rank([read], k=1):
            best[index] = max(best[index], guess.score)
    return sorted(range(count), key=lambda i: (-best[i], i))


def _own_reader(models: Path | None) -> PlateTextReader | None:
    try:
        return PlateTextReader(models) if models is not None else PlateTextReader()
    except (FileNotFoundError, OSError) as error:
        logger.warning("own plate reader unavailable: %s", error)
        return None


def _plate_detector(models: Path | None) -> PlateDetector | None:
    try:
        return PlateDetector(models) if models is not None else PlateDetector()
    except (FileNotFoundError, OSError) as error:
        logger.warning("plate detector unavailable, the whole frame is searched: %s", error)
        return None


def _add(timings: dict[str, float], stage: str, start: float) -> None:
    timings[stage] = timings.get(stage, 0.0) + _ms_since(start)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000
