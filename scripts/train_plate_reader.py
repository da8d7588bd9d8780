"""Train the project's plate text reader and ship it: drivers/plates/models/plate_reader.onnx and
its card plate_reader.json (charset, input policy, data sources, training and validation figures).

By default the shipped weights (plate_reader.pt) are fine-tuned. The crops come from the
synthetic renderer (`drivers.sim.plates.training_crop`) and rendered scenes cut by the real
detector (`plate_frame_crops`), rendered once with fixed seeds; and, when ../shared/data holds
the real labelled sets, from the tuning part of those photographs (`plate_real_crops`),
oversampled. A share of the crops goes once through a real video codec
(`drivers.sim.camera_degradation.codec_pool`) and every crop is augmented anew on every pass,
with a camera's degradations on top (`camera_degradation.degrade`).

The checkpoint is chosen on rendered validation crops (VALIDATION_SEED) and on real crops of
tuning-part plates held back from training. The card's figures on real crops are read on the
reporting part, which nothing was trained or chosen on. Validation reads the exported model
through the runtime reader (`drivers.plates.plate_reader.PlateTextReader`), so the figures on
the card are those of the file that ships. Without ../shared the run uses rendered data only
and the card says so.

    make train-plates        # or: .venv/bin/python scripts/train_plate_reader.py --minutes 17
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import multiprocessing
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
from plate_frame_crops import frame_crops
from plate_real_crops import CROP_SETS, FRAME_SETS, RealCrop, Tally, available, report_crops
from plate_real_crops import real_crops as cut_real_crops
from rapidfuzz.distance import Levenshtein
from torch import nn

from drivers.plates.plate_reader import (
    MODEL_NAME,
    MODELS,
    DataSource,
    InputPolicy,
    Line,
    PlateReaderInfo,
    PlateTextReader,
    RealValidation,
    TrainingReport,
    ValidationReport,
    batch_input,
    line_input,
    width_groups,
)
from drivers.plates.ranking import plate_key
from drivers.plates.text_detector import DetectorSettings, TextDetector
from drivers.sim import camera_degradation
from drivers.sim.plates import PLATE_CHARSET, training_crop
from edge.plate_formats import CN_PROVINCES, FORMATS, VISITOR_FORMATS, Group, PlateFormat

TRAIN_SEED = 6001
VALIDATION_SEED = 6002  # the unit tests use 6003
POLICY = InputPolicy()
CHANNELS = (16, 32, 64, 64, 128)
HIDDEN = 80
NEGATIVES = 0.02
# Scenes a format whose crops are cut by the real detector and region builder
# (plate_frame_crops): what the pipeline does to a plate, which rendered crops only imitate.
FRAMES_PER_FORMAT = 30
FRAME_REPEATS = 3  # they are few and closest to the road: each is in a pass this many times
# More distinct crops where the alphabet is large: 31 provinces (the generator draws Xinjiang for
# 70% of Chinese plates, the other 30 share the rest), Mongolian letters seen on no other plate.
# The visiting trucks' formats (TR, DE...) fewer: their letters and digits are the corridor's,
# only their layouts are new.
COUNTRY_WEIGHTS = {"CN": 3.0, "MN": 3.0, **{f.country: 0.4 for f in VISITOR_FORMATS}}
READ_FORMATS = FORMATS + VISITOR_FORMATS  # what the reader learns to read
EVEN_PROVINCES = 0.6  # the share of Chinese training plates with the province drawn evenly
# The PyTorch weights of the shipped model, kept for fine-tuning (`--init`); not in the package.
WEIGHTS = MODELS / f"{MODEL_NAME}.pt"
# Real crops are few: repeated so they make about this share of a pass, each pass augmented anew.
REAL_SHARE = 0.25
HELD_BACK = 5  # one tuning-part plate in this many is kept out of training to choose the checkpoint
CODEC_SHARE = 0.3  # rendered crops that go through the video codec once (real ones: a twin each)
DEGRADE = {"rendered": 0.7, "real": 1.0}  # camera_degradation.degrade's strength
CHECKPOINTS = (0.55, 0.7, 0.85, 1.0)
JUDGING_CROPS = 30  # shares of the training time where a checkpoint is judged
AUGMENTATION = (
    "horizontal scale 0.8-1.2 (p 0.5); left/right cut or margin up to 5% of the width each "
    "(p 0.5); top/bottom cut or margin up to 2 px (p 0.3); gamma 0.6-1.6 (p 0.2); "
    "resolution loss 0.5-0.8 (p 0.1); contrast inversion (p 0.05); random extra right padding "
    "of a batch (p 0.3); 2% crops without a plate (flat, noise, gradients, strokes), label ''; "
    "60% of Chinese plates with the province drawn evenly; then a real camera's degradations "
    f"(drivers.sim.camera_degradation, strength {DEGRADE['rendered']} rendered, "
    f"{DEGRADE['real']} real): " + camera_degradation.describe() + "; and once, before "
    f"training, H.264 or H.265 (PyAV libx264/libx265, ultrafast, "
    f"{camera_degradation.BITS_PER_PIXEL[0]}-{camera_degradation.BITS_PER_PIXEL[1]} bits a "
    f"pixel, the last frame of a {camera_degradation.CLIP_FRAMES}-frame moving clip) for "
    f"{CODEC_SHARE:.0%} of rendered crops and a twin of every real crop"
)

Grey = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Sample:
    crop: Grey
    label: str
    format: str  # a format name, or "" for a crop without a plate
    real: bool = False


# -- the model ---------------------------------------------------------------------------------


def _block(inputs: int, outputs: int) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
    ]


class PlateCRNN(nn.Module):
    """Five 3x3 conv blocks (height 32 -> 4, width / 4), a (4, 1) block that collapses the height,
    a bidirectional LSTM over the width, a linear layer to the classes (0 is CTC's blank)."""

    def __init__(self, classes: int, channels: Sequence[int] = CHANNELS, hidden: int = HIDDEN):
        super().__init__()
        c1, c2, c3, c4, c5 = channels
        self.features = nn.Sequential(
            *_block(1, c1), nn.MaxPool2d(2),
            *_block(c1, c2), nn.MaxPool2d(2),
            *_block(c2, c3), *_block(c3, c4), nn.MaxPool2d((2, 1)),
            *_block(c4, c5),
            nn.Conv2d(c5, c5, (4, 1), bias=False), nn.BatchNorm2d(c5), nn.ReLU(),
        )  # fmt: skip
        self.context = nn.LSTM(c5, hidden, bidirectional=True, batch_first=True)
        self.classify = nn.Linear(2 * hidden, classes)

    def forward(self, lines: torch.Tensor) -> torch.Tensor:
        """(batch, 1, 32, width) -> logits (batch, width / 4, classes)."""
        steps = self.features(lines).squeeze(2).permute(0, 2, 1)
        context, _ = self.context(steps)
        logits: torch.Tensor = self.classify(context)
        return logits

    def describe(self) -> str:
        c = [m.out_channels for m in self.features if isinstance(m, nn.Conv2d)]
        return (
            f"CRNN: conv3x3-BN-ReLU {c[0]}, maxpool 2x2, {c[1]}, maxpool 2x2, {c[2]}, {c[3]}, "
            f"maxpool 2x1, {c[4]}, conv4x1-BN-ReLU {c[5]} (height 32 -> 1, width / 4); "
            f"BiLSTM {self.context.hidden_size} x 2; linear {self.classify.out_features}; "
            "CTC loss"
        )


class _Probabilities(nn.Module):
    def __init__(self, model: PlateCRNN):
        super().__init__()
        self.model = model

    def forward(self, lines: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(lines), dim=-1)


# -- data --------------------------------------------------------------------------------------


def _render(job: tuple[int, int, int, int, bool]) -> list[Sample]:
    """`count` crops of one format (index into READ_FORMATS), from their own seed; with `balance`,
    most Chinese plates come from every province evenly, not 70% from Xinjiang."""
    seed, chunk, format_index, count, balance = job
    rng = random.Random(seed * 1_000_003 + chunk)
    fmt = READ_FORMATS[format_index]
    even = _even_provinces(fmt) if balance and fmt.country == "CN" else fmt
    samples = []
    for _ in range(count):
        drawn = _drawn(fmt, even, rng)
        crop, label = training_crop(rng, height=POLICY.height, formats=(drawn,))
        samples.append(Sample(crop, label, fmt.name))
    return samples


_detector: TextDetector | None = None  # one a worker process, made after the fork


def _render_frames(job: tuple[int, int, int, int]) -> list[Sample]:
    """The pipeline's crops of `count` rendered scenes of one format (`plate_frame_crops`);
    most Chinese plates from every province evenly, as in `_render`."""
    global _detector
    seed, chunk, format_index, count = job
    if _detector is None:
        _detector = TextDetector(DetectorSettings())
    rng = random.Random(f"frames:{seed}:{chunk}")
    fmt = READ_FORMATS[format_index]
    even = _even_provinces(fmt) if fmt.country == "CN" else fmt
    side = DetectorSettings().max_side
    samples = []
    for _ in range(count):
        drawn = _drawn(fmt, even, rng)
        text = drawn.random_plate(rng)
        samples += [
            Sample(found.crop, found.label, fmt.name)
            for found in frame_crops(_detector, drawn, text, rng, side)
        ]
    return samples


def render_frames(
    seed: int, per_format: int, workers: int, weights: dict[str, float] | None = None
) -> list[Sample]:
    """The pipeline's crops of `per_format` scenes of every format (times its country's
    weight), rendered and detected in parallel."""
    jobs = _jobs(seed, per_format, weights, chunk=25)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return [sample for part in pool.imap(_render_frames, jobs) for sample in part]


def _jobs(
    seed: int, per_format: int, weights: dict[str, float] | None, chunk: int
) -> list[tuple[int, int, int, int]]:
    """(seed, chunk number, format index, count): `per_format` of every format, times its
    country's weight, in chunks of at most `chunk`; a chunk's number seeds it."""
    jobs = []
    for format_index, fmt in enumerate(READ_FORMATS):
        total = round(per_format * (weights or {}).get(fmt.country, 1.0))
        for start in range(0, total, chunk):
            count = min(chunk, total - start)
            jobs.append((seed, format_index * 10_000 + start // chunk, format_index, count))
    return jobs


def _drawn(fmt: PlateFormat, even: PlateFormat, rng: random.Random) -> PlateFormat:
    """The format to draw a plate of: `even` (every Chinese province alike) in EVEN_PROVINCES of
    draws when it differs from `fmt`."""
    return even if even is not fmt and rng.random() < EVEN_PROVINCES else fmt


def _even_provinces(fmt: PlateFormat) -> PlateFormat:
    return dataclasses.replace(fmt, groups=(Group(CN_PROVINCES, 1), *fmt.groups[1:]))


def render(
    seed: int,
    per_format: int,
    workers: int,
    weights: dict[str, float] | None = None,
    balance: bool = False,
) -> list[Sample]:
    """`per_format` crops of every format (times its country's weight), rendered in parallel."""
    jobs = [(*job, balance) for job in _jobs(seed, per_format, weights, chunk=250)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return [sample for part in pool.imap(_render, jobs) for sample in part]


def negative(rng: np.random.Generator) -> Grey:
    """A crop with no plate in it: flat, noise, a gradient or a few strokes."""
    width = int(rng.integers(48, 320))
    kind = rng.integers(4)
    image = np.full((POLICY.height, width), rng.integers(0, 256), np.float32)
    if kind >= 1:
        image += rng.normal(0, rng.uniform(2, 40), image.shape)
    if kind >= 2:
        ramp = np.linspace(0, rng.uniform(-120, 120), width, dtype=np.float32)
        image += ramp[None, :] if rng.random() < 0.5 else np.resize(ramp, image.shape[::-1]).T
    if kind == 3:
        for _ in range(int(rng.integers(1, 6))):
            p1 = (int(rng.integers(width)), int(rng.integers(POLICY.height)))
            p2 = (int(rng.integers(width)), int(rng.integers(POLICY.height)))
            colour = float(rng.integers(256))
            cv2.line(image, p1, p2, colour, int(rng.integers(1, 5)))
    return np.clip(image, 0, 255).astype(np.uint8)


def augment(crop: Grey, rng: np.random.Generator) -> Grey:
    image = crop
    rows, cols = image.shape
    if rng.random() < 0.5:
        width = max(8, round(cols * rng.uniform(0.8, 1.2)))
        image = np.asarray(cv2.resize(image, (width, rows), interpolation=cv2.INTER_LINEAR))
    if rng.random() < 0.5:
        image = _shift_edges(image, rng, axis=1, most=round(image.shape[1] * 0.05))
    if rng.random() < 0.3:
        image = _shift_edges(image, rng, axis=0, most=2)
    if rng.random() < 0.2:
        lut = (255 * (np.arange(256) / 255) ** rng.uniform(0.6, 1.6)).astype(np.uint8)
        image = np.asarray(cv2.LUT(image, lut))
    if rng.random() < 0.1:
        rows, cols = image.shape
        scale = rng.uniform(0.5, 0.8)
        small = cv2.resize(image, (max(4, round(cols * scale)), max(4, round(rows * scale))))
        image = np.asarray(cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR))
    if rng.random() < 0.05:
        image = 255 - image
    return np.asarray(image, np.uint8)


def _shift_edges(image: Grey, rng: np.random.Generator, *, axis: int, most: int) -> Grey:
    """Cut up to `most` pixels off each end of `axis`, or add a replicated margin that wide."""
    before, after = (int(rng.integers(-most, most + 1)) for _ in range(2))
    length = image.shape[axis]
    start, stop = max(0, -before), length - max(0, -after)
    if stop - start < length // 2:
        return image
    image = image[start:stop] if axis == 0 else image[:, start:stop]
    pads = (max(0, before), max(0, after))
    top, bottom, left, right = (*pads, 0, 0) if axis == 0 else (0, 0, *pads)
    return np.asarray(cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE))


def encode(label: str, index: dict[str, int]) -> list[int]:
    try:
        return [index[ch] for ch in label]
    except KeyError as error:
        raise ValueError(f"label {label!r}: {error} is not in PLATE_CHARSET") from None


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def batches(
    samples: Sequence[Sample], index: dict[str, int], batch_size: int, rng: np.random.Generator
) -> Iterator[Batch]:
    """Endless batches of augmented crops, each of lines of similar width (little padding)."""
    pool = batch_size * min(16, max(1, len(samples) // batch_size))
    while True:
        order = rng.permutation(len(samples))
        for start in range(0, len(order) - pool + 1, pool):
            lines: list[tuple[Line, list[int]]] = []
            for i in order[start : start + pool]:
                if rng.random() < NEGATIVES:
                    lines.append((line_input(negative(rng), POLICY), []))
                else:
                    sample = samples[i]
                    crop = augment(sample.crop, rng)
                    strength = DEGRADE["real" if sample.real else "rendered"]
                    crop = camera_degradation.degrade(crop, rng, strength)
                    lines.append((line_input(crop, POLICY), encode(sample.label, index)))
            lines.sort(key=lambda item: item[0].shape[1])
            groups = [lines[i : i + batch_size] for i in range(0, pool, batch_size)]
            for group_index in rng.permutation(len(groups)):
                yield _tensors(groups[group_index], rng)


def _tensors(group: list[tuple[Line, list[int]]], rng: np.random.Generator) -> Batch:
    batch = batch_input([line for line, _ in group], POLICY)
    if rng.random() < 0.3:
        extra = int(rng.integers(1, 8)) * POLICY.width_multiple
        batch = np.pad(batch, ((0, 0), (0, 0), (0, 0), (0, extra)))
    targets = torch.tensor([c for _, label in group for c in label], dtype=torch.long)
    lengths = torch.tensor([len(label) for _, label in group], dtype=torch.long)
    return torch.from_numpy(batch), targets, lengths


# -- training ----------------------------------------------------------------------------------


def learning_rate(progress: float, peak: float) -> float:
    """Linear warm-up over the first 3% of the time, then a cosine down to 2% of the peak."""
    if progress < 0.03:
        return peak * (0.1 + 0.9 * progress / 0.03)
    cosine = 0.5 * (1 + np.cos(np.pi * min(1.0, (progress - 0.03) / 0.97)))
    return peak * (0.02 + 0.98 * float(cosine))


@dataclass
class Trained:
    steps: int
    judged: list[tuple[float, int, float]]  # (share of the time, step, score) a checkpoint
    best: dict[str, torch.Tensor] | None  # the best-judged checkpoint's weights


def train(
    model: PlateCRNN,
    samples: Sequence[Sample],
    minutes: float,
    batch_size: int,
    peak: float,
    seed: int = TRAIN_SEED,
    judge: Callable[[PlateCRNN], float] | None = None,
) -> Trained:
    """Train for `minutes`; at each of CHECKPOINTS, `judge` scores the model and the best
    checkpoint's weights are kept."""
    index = {ch: i + 1 for i, ch in enumerate(PLATE_CHARSET)}
    optimiser = torch.optim.AdamW(model.parameters(), lr=peak, weight_decay=1e-4)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    budget = minutes * 60
    started = time.monotonic()
    model.train()
    # about a fifth faster on oneDNN; Module.to's stubs lack the memory_format it takes
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    losses: list[float] = []
    marks = list(CHECKPOINTS) if judge is not None else []
    trained = Trained(0, [], None)
    best = -1.0
    for lines, targets, lengths in batches(samples, index, batch_size, _numpy_rng(seed)):
        progress = (time.monotonic() - started) / budget
        if marks and progress >= marks[0] and judge is not None:
            score = judge(model)
            trained.judged.append((marks.pop(0), trained.steps, round(score, 4)))
            print(f"checkpoint at step {trained.steps}: score {score:.4f}", flush=True)
            if score > best:
                best, trained.best = score, copy.deepcopy(model.state_dict())
            model.train()
        if progress >= 1:
            break
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(progress, peak)
        lines = lines.contiguous(memory_format=torch.channels_last)
        log_probs = model(lines).log_softmax(-1).permute(1, 0, 2)  # (steps, batch, classes)
        steps = torch.full((lines.shape[0],), log_probs.shape[0], dtype=torch.long)
        loss = ctc(log_probs, targets, steps, lengths)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        losses.append(loss.item())
        trained.steps += 1
        if trained.steps % 200 == 0:
            elapsed = time.monotonic() - started
            print(
                f"step {trained.steps}  loss {np.mean(losses[-200:]):.4f}  "
                f"{trained.steps * batch_size / elapsed:.0f} crops/s  {elapsed / 60:.1f} min",
                flush=True,
            )
    return trained


def greedy_accuracy(model: PlateCRNN, crops: Sequence[Grey], labels: Sequence[str]) -> list[bool]:
    """Whether the model's best path (greedy CTC) reads each crop's label; batched by width as
    the runtime batches."""
    model.eval()
    alphabet = ["", *PLATE_CHARSET]
    lines = [line_input(crop, POLICY) for crop in crops]
    right = [False] * len(lines)
    with torch.no_grad():
        for group in width_groups([line.shape[1] for line in lines]):
            for start in range(0, len(group), 64):
                part = group[start : start + 64]
                batch = torch.from_numpy(batch_input([lines[i] for i in part], POLICY))
                best = model(batch).argmax(-1).numpy()
                for i, path in zip(part, best, strict=True):
                    kept = [c for j, c in enumerate(path) if c and (j == 0 or c != path[j - 1])]
                    right[i] = "".join(alphabet[c] for c in kept) == labels[i]
    return right


def judge_on(rendered: Sequence[Sample], real: Sequence[RealCrop]) -> Callable[[PlateCRNN], float]:
    """The checkpoint's score: the mean of its sequence accuracy on the rendered validation
    crops and of its mean per real set on the held-back real crops (each set alike, however
    many crops it has); rendered alone without real crops."""

    def judge(model: PlateCRNN) -> float:
        hits = greedy_accuracy(model, [s.crop for s in rendered], [s.label for s in rendered])
        score = float(np.mean(hits))
        if not real:
            return score
        read = greedy_accuracy(model, [c.crop for c in real], [c.label for c in real])
        groups = _judging_groups(real)
        per_group = [
            float(np.mean([hit for hit, c in zip(read, real, strict=True) if c.source in group]))
            for group in groups
        ]
        print(
            f"  rendered {score:.4f}; real "
            + ", ".join(f"{'+'.join(g)} {a:.3f}" for g, a in zip(groups, per_group, strict=True)),
            flush=True,
        )
        return (score + float(np.mean(per_group))) / 2

    return judge


def _judging_groups(real: Sequence[RealCrop]) -> list[tuple[str, ...]]:
    """The real sets, each alike in the score; sets with fewer than JUDGING_CROPS held-back crops
    pooled into one group (one Kazakh plate held back would swing the score on its own)."""
    counts: dict[str, int] = {}
    for crop in real:
        counts[crop.source] = counts.get(crop.source, 0) + 1
    large = [(name,) for name, count in counts.items() if count >= JUDGING_CROPS]
    small = tuple(name for name, count in counts.items() if count < JUDGING_CROPS)
    return large + ([small] if small else [])


def _numpy_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- export and validation ---------------------------------------------------------------------


def export(model: PlateCRNN, path: Path) -> None:
    model.eval()
    model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    example = torch.zeros(1, 1, POLICY.height, 160)
    torch.onnx.export(
        _Probabilities(model),
        (example,),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["lines"],
        output_names=["probabilities"],
        dynamic_axes={"lines": {0: "batch", 3: "width"}, "probabilities": {0: "batch", 1: "steps"}},
    )


def validate(
    models: Path, samples: Sequence[Sample], seed: int, failures: Path | None
) -> ValidationReport:
    reader = PlateTextReader(models, k=1)
    right: dict[str, list[bool]] = {fmt.name: [] for fmt in READ_FORMATS}
    edits = characters = 0
    if failures is not None:
        shutil.rmtree(failures, ignore_errors=True)
        failures.mkdir(parents=True)
    for start in range(0, len(samples), 32):
        chunk = samples[start : start + 32]
        for sample, found in zip(chunk, reader.read([s.crop for s in chunk]), strict=True):
            best = found[0][0] if found else ""
            right[sample.format].append(best == sample.label)
            edits += Levenshtein.distance(best, sample.label)
            characters += len(sample.label)
            if best != sample.label and failures is not None:
                _save_failure(failures, sample, best, len(right[sample.format]))
    per_format = {name: round(float(np.mean(hits)), 4) for name, hits in right.items()}
    overall = float(np.mean([hit for hits in right.values() for hit in hits]))
    return ValidationReport(
        seed=seed,
        samples=len(samples),
        sequence_accuracy=round(overall, 4),
        character_error_rate=round(edits / max(1, characters), 5),
        per_format=per_format,
    )


def _save_failure(folder: Path, sample: Sample, read: str, number: int) -> None:
    if len(list(folder.glob(f"{_slug(sample.format)}-*"))) >= 12:
        return
    name = f"{_slug(sample.format)}-{number:03d}-{sample.label}-read-{read or 'nothing'}.png"
    cv2.imencode(".png", sample.crop)[1].tofile(str(folder / name))


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


def card(
    model: PlateCRNN, training: TrainingReport, validation: ValidationReport
) -> PlateReaderInfo:
    return PlateReaderInfo(
        model=f"{MODEL_NAME}.onnx",
        architecture=model.describe(),
        parameters=sum(p.numel() for p in model.parameters()),
        charset=PLATE_CHARSET,
        input=POLICY,
        training=training,
        validation=validation,
    )


def _write_card(folder: Path, info: PlateReaderInfo) -> None:
    text = info.model_dump_json(indent=2)
    (folder / f"{MODEL_NAME}.json").write_text(text + "\n", encoding="utf-8")


# -- real crops -------------------------------------------------------------------------------


@dataclass
class RealData:
    samples: list[Sample]  # distinct training crops, codec twins included, before repetition
    held: list[RealCrop]  # tuning-part plates kept out of training: they judge checkpoints
    tallies: dict[str, Tally]
    report: list[RealCrop]  # the reporting part: the card's held-out figures


def held_back(plate: str) -> bool:
    """Whether a tuning-part plate is kept out of training to judge checkpoints (by plate, so
    no frame or crop of it is trained on)."""
    digest = hashlib.sha256(f"reader held back:{plate_key(plate)}".encode()).digest()
    return digest[0] % HELD_BACK == 0


def real_data(rng: np.random.Generator) -> RealData | None:
    """The real sets' crops, or None when ../shared/data is absent."""
    if not available():
        return None
    crops, tallies = cut_real_crops("tune")
    kept = [c for c in crops if not held_back(c.plate)]
    twins = camera_degradation.codec_pool([c.crop for c in kept], rng)
    samples = [
        Sample(crop, c.label, f"real {c.source}", real=True)
        for c, twin in zip(kept, twins, strict=True)
        for crop in (c.crop, twin)
    ]
    held = [c for c in crops if held_back(c.plate)]
    return RealData(samples, held, tallies, report_crops())


def with_codec(samples: list[Sample], rng: np.random.Generator) -> list[Sample]:
    """CODEC_SHARE of the samples replaced by their crop through a video codec."""
    chosen = np.flatnonzero(rng.random(len(samples)) < CODEC_SHARE)
    coded = camera_degradation.codec_pool([samples[i].crop for i in chosen], rng)
    out = list(samples)
    for i, crop in zip(chosen, coded, strict=True):
        out[i] = dataclasses.replace(samples[i], crop=crop)
    return out


def real_figures(models: Path, crops: Sequence[RealCrop]) -> dict[str, tuple[int, float, float]]:
    """Per real set: (crops, sequence accuracy, character error rate) of the model in `models`
    read through the runtime reader."""
    reader = PlateTextReader(models, k=1)
    reads: list[str] = []
    for start in range(0, len(crops), 32):
        chunk = crops[start : start + 32]
        reads += [found[0][0] if found else "" for found in reader.read([c.crop for c in chunk])]
    out = {}
    for name in [*FRAME_SETS, *CROP_SETS]:
        pairs = [(r, c.label) for r, c in zip(reads, crops, strict=True) if c.source == name]
        if pairs:
            right = float(np.mean([r == label for r, label in pairs]))
            edits = sum(Levenshtein.distance(r, label) for r, label in pairs)
            characters = sum(len(label) for _, label in pairs)
            out[name] = (len(pairs), round(right, 4), round(edits / max(1, characters), 4))
    return out


def real_validation(
    figures: dict[str, tuple[int, float, float]], before: dict[str, tuple[int, float, float]]
) -> list[RealValidation]:
    return [
        RealValidation(
            set=f"{(FRAME_SETS | CROP_SETS)[name][0]} (reporting part)",
            crops=count,
            sequence_accuracy=accuracy,
            character_error_rate=cer,
            previous_model=before[name][1] if name in before else None,
        )
        for name, (count, accuracy, cer) in figures.items()
    ]


def data_sources(
    rendered: int, scenes: int, from_frames: int, real: RealData | None
) -> list[DataSource]:
    own = "the project's own renderer (drivers.sim)"
    sources = [
        DataSource(name="rendered crops (training_crop)", licence=own, images=rendered,
                   crops=rendered),
        DataSource(name="rendered scenes cut by the detector (plate_frame_crops)", licence=own,
                   images=scenes, crops=from_frames),
    ]  # fmt: skip
    if real is None:
        return sources
    for name, (folder, licence) in (FRAME_SETS | CROP_SETS).items():
        tally = real.tallies[name]
        held = sum(1 for c in real.held if c.source == name)
        sources.append(
            DataSource(
                name=f"{folder} (tuning part, real; crops aligned with their label)",
                licence=licence,
                images=tally.frames,
                crops=tally.kept - held,
                held_back=held,
            )
        )
    return sources


# -- the run -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=17.0, help="training time budget")
    parser.add_argument("--per-format", type=int, default=2_000, help="training crops a format")
    parser.add_argument(
        "--frames-per-format", type=int, default=FRAMES_PER_FORMAT,
        help="rendered scenes a format whose pipeline crops join the training crops",
    )  # fmt: skip
    parser.add_argument("--validation-per-format", type=int, default=134)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--channels", default=",".join(map(str, CHANNELS)))
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--out", type=Path, default=MODELS)
    parser.add_argument("--failures", type=Path, default=Path("/tmp/plate_reader_failures"))
    parser.add_argument(
        "--init", default=str(WEIGHTS),
        help="fine-tune these weights (default: the shipped .pt); 'none' trains from scratch",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=TRAIN_SEED, help="of the training crops")
    parser.add_argument(
        "--weights", default=",".join(f"{c}={w}" for c, w in COUNTRY_WEIGHTS.items()),
        help="more crops of some countries' formats, e.g. UZ=2 (the others keep their weight)",
    )  # fmt: skip
    parser.add_argument("--no-real", action="store_true", help="rendered crops only")
    args = parser.parse_args(argv)
    given = {c: float(w) for c, w in (item.split("=") for item in args.weights.split(","))}
    weights = {**COUNTRY_WEIGHTS, **given}

    started = time.monotonic()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    torch.manual_seed(args.seed)
    rng = _numpy_rng(args.seed)
    rendered = render(args.seed, args.per_format, args.workers, weights, balance=True)
    from_frames = render_frames(args.seed, args.frames_per_format, args.workers, weights)
    scenes = sum(job[3] for job in _jobs(args.seed, args.frames_per_format, weights, 25))
    samples = with_codec(rendered + from_frames * FRAME_REPEATS, rng)
    real = None if args.no_real else real_data(rng)
    before: dict[str, tuple[int, float, float]] = {}
    if real is not None:
        if (MODELS / f"{MODEL_NAME}.onnx").is_file():
            before = real_figures(MODELS, real.report)
        repeats = max(1, round(REAL_SHARE / (1 - REAL_SHARE) * len(samples) / len(real.samples)))
        samples += real.samples * repeats
        print(f"real crops: {len(real.samples)} x{repeats}, {len(real.held)} held back", flush=True)
        for name, tally in real.tallies.items():
            print(f"  {name}: {tally.line()}", flush=True)
    held_out = render(VALIDATION_SEED, args.validation_per_format, args.workers)
    generation_s = time.monotonic() - started
    print(
        f"{len(samples)} training crops ({len(from_frames)} through the pipeline) and "
        f"{len(held_out)} held out, made in {generation_s:.0f} s",
        flush=True,
    )

    channels = tuple(int(c) for c in args.channels.split(","))
    model = PlateCRNN(len(PLATE_CHARSET) + 1, channels, args.hidden)
    initialised_from = None
    if args.init != "none":
        init = Path(args.init)
        model.load_state_dict(torch.load(init, weights_only=True))
        initialised_from = (
            f"{init.name} sha256:{hashlib.sha256(init.read_bytes()).hexdigest()[:16]}"
        )
    judged = _every_format(held_out, 30)
    judge = judge_on(judged, real.held if real else [])
    training_started = time.monotonic()
    trained = train(
        model, samples, args.minutes, args.batch_size, args.learning_rate, args.seed, judge
    )
    training_s = time.monotonic() - training_started
    if trained.best is not None:
        model.load_state_dict(trained.best)
    chosen = max(trained.judged, key=lambda j: j[2]) if trained.judged else None
    checkpoint = (
        f"judged at {', '.join(f'{p:.0%} (step {s}: {v})' for p, s, v in trained.judged)} of "
        f"the time on the mean of greedy sequence accuracy on {len(judged)} rendered "
        f"validation crops (seed {VALIDATION_SEED}) and of the per-set mean on "
        f"{len(real.held) if real else 0} real crops of tuning-part plates held back from "
        f"training (one plate in {HELD_BACK}; sets of fewer than {JUDGING_CROPS} such crops "
        f"pooled); shipped: step {chosen[1] if chosen else '-'}"
    )
    seen = trained.steps * args.batch_size * (1 - NEGATIVES)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out / WEIGHTS.name)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        export(model, folder / f"{MODEL_NAME}.onnx")
        report = TrainingReport(
            seed=args.seed,
            samples=len(samples),
            negatives=NEGATIVES,
            steps=trained.steps,
            batch_size=args.batch_size,
            epochs=round(seen / len(samples), 2),
            generation_s=round(generation_s, 1),
            training_s=round(training_s, 1),
            wall_time_s=0.0,
            renderer=(
                "drivers.sim.plates.training_crop, strength drawn per crop; and "
                f"{len(from_frames)} crops of {args.frames_per_format} rendered scenes a format "
                f"cut by the real detector and regions (plate_frame_crops, x{FRAME_REPEATS}); "
                + (
                    f"real crops (plate_real_crops) repeated to about {REAL_SHARE:.0%} of a pass"
                    if real is not None
                    else "no real crops: ../shared/data was absent, rendered data only"
                )
            ),
            augmentation=AUGMENTATION,
            torch=torch.__version__,
            initialised_from=initialised_from,
        )
        empty = ValidationReport(
            seed=VALIDATION_SEED, samples=0, sequence_accuracy=0, character_error_rate=1,
            per_format={},
        )  # fmt: skip
        sources = data_sources(len(rendered), scenes, len(from_frames), real)
        info = card(model, report, empty).model_copy(
            update={"data": sources, "checkpoint": checkpoint}
        )
        _write_card(folder, info)
        validation = validate(folder, held_out, VALIDATION_SEED, args.failures)
        figures = real_validation(real_figures(folder, real.report), before) if real else []
        report = report.model_copy(update={"wall_time_s": round(time.monotonic() - started, 1)})
        info = info.model_copy(
            update={"training": report, "validation": validation, "real_validation": figures}
        )
        _write_card(folder, info)
        for name in (f"{MODEL_NAME}.onnx", f"{MODEL_NAME}.json"):
            shutil.copyfile(folder / name, args.out / name)
    print(info.model_dump_json(indent=2, exclude={"charset"}))


def _every_format(samples: Sequence[Sample], per_format: int) -> list[Sample]:
    """The first `per_format` samples of each format."""
    counts: dict[str, int] = {}
    out = []
    for sample in samples:
        counts[sample.format] = counts.get(sample.format, 0) + 1
        if counts[sample.format] <= per_format:
            out.append(sample)
    return out


if __name__ == "__main__":
    main()
