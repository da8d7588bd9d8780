"""Train the project's plate detector and ship it: drivers/plates/models/plate_detector.onnx, its
card plate_detector.json (architecture, data with counts, validation figures, the file's
SHA-256) and the PyTorch weights plate_detector.pt (for fine-tuning).

Data (tuning material only, see drivers/plates/seeds.py): the real sets' tuning part less a
held-back fifth, rendered lane scenes of every corridor and visitor format, and both with plate
crops pasted in (more real plates, several plates a frame). The checkpoint is chosen on the
held-back fifth and on rendered scenes of another seed, read through the runtime's own box
decoding at the runtime's input size.

    make train-plates        # or: .venv/bin/python scripts/train_plate_detector.py
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
from eval_plate_detector import best_iou, bounds, summary
from plate_detector_data import (
    BGR,
    Quads,
    Scene,
    core_target,
    decode,
    flat_plates,
    paste,
    photometric,
    real_crops,
    real_frames,
    rendered_scenes,
    stored,
    training_crop,
)
from plate_detector_net import PlateNet, Probabilities
from torch.nn import functional

from drivers.plates.plate_detector import (
    MODEL_NAME,
    MODELS,
    DetectorInput,
    PlateDetector,
    PlateDetectorInfo,
    PlateDetectorSettings,
    TrainingReport,
    ValidationReport,
    blobs_to_boxes,
    frame_tensor,
    input_size,
    load_info,
)

TRAIN_SEED = 6201
VALIDATION_SEED = 6202  # the unit tests' scenes use 6203
INPUT = DetectorInput()
SETTINGS = PlateDetectorSettings()
CROP = 256
SCENES_PER_FORMAT = 40  # rendered training scenes a format
VALIDATION_PER_FORMAT = 3
FLAT_PLATES = 600
# a training crop's scene: a real frame, a rendered one, or either with crops pasted in
MIX = {"real": 0.3, "rendered": 0.3, "pasted": 0.4}
AUGMENTATION = (
    "scale: a plate 18-300 px wide at the input (log-uniform), shrunk by "
    "area; 256 px crops centred near a plate (15% anywhere), turn +-6 deg (p 0.5), corner "
    "jitter sigma 3% (p 0.4); brightness/contrast/channel gains (p 0.8), gamma 0.6-1.6 (p 0.3), "
    "IR-night grey (p 0.15), Gaussian blur sigma 0.4-1.5 (p 0.25) or motion blur 3-7 px "
    "(p 0.11), noise sigma 2-12 (p 0.3), down-and-up scaling 0.4-0.8 (p 0.2), JPEG quality "
    "15-90 (p 0.5); no flips (text)"
)
WEIGHTS = MODELS / f"{MODEL_NAME}.pt"

Tensor = torch.Tensor


# -- data --------------------------------------------------------------------------------------


def training_scenes(
    seed: int, per_format: int
) -> tuple[dict[str, list[Scene]], list[npt.NDArray[np.uint8]], dict[str, int]]:
    started = time.monotonic()
    real = real_frames(validation=False)
    counts = {f"real tuning frames, {name} (training share)": len(f) for name, f in real.items()}
    real_scenes = [
        stored(image, quads, name) for name, frames in real.items() for image, quads in frames
    ]
    crops = real_crops([frame for frames in real.values() for frame in frames])
    rendered = [stored(f, q, name) for f, q, name in rendered_scenes(seed, per_format)]
    plates = flat_plates(seed, FLAT_PLATES)
    counts["rendered scenes (render_scene, 29 formats)"] = len(rendered)
    counts["real plate crops to paste (cn-lprnet tune + training frames' plates)"] = len(crops)
    counts["rendered flat plates to paste (draw_plate, 29 formats)"] = len(plates)
    print(f"training data ready in {time.monotonic() - started:.0f} s: {counts}", flush=True)
    return {"real": real_scenes, "rendered": rendered}, [*crops, *plates], counts


def sample(
    scenes: dict[str, list[Scene]],
    crops: Sequence[npt.NDArray[np.uint8]],
    rng: np.random.Generator,
) -> tuple[BGR, npt.NDArray[np.float32]]:
    kind = rng.choice(list(MIX), p=list(MIX.values()))
    pool = scenes[
        "real" if kind == "real" or (kind == "pasted" and rng.random() < 0.5) else "rendered"
    ]
    scene = pool[int(rng.integers(len(pool)))]
    image, quads = decode(scene.image), scene.quads
    if kind == "pasted":
        image, quads = paste(image, quads, crops, rng, int(rng.integers(1, 4)))
    crop, moved = training_crop(image, quads, rng, CROP)
    return photometric(crop, rng), core_target(moved, CROP, INPUT.stride, INPUT.shrink)


def batch(
    scenes: dict[str, list[Scene]],
    crops: Sequence[npt.NDArray[np.uint8]],
    rng: np.random.Generator,
    size: int,
) -> tuple[Tensor, Tensor]:
    images, targets = zip(*(sample(scenes, crops, rng) for _ in range(size)), strict=True)
    x = np.stack(images).astype(np.float32).transpose(0, 3, 1, 2) * (1 / 127.5) - 1
    return torch.from_numpy(x), torch.from_numpy(np.stack(targets)[:, None])


def loss_of(logits: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy over every core pixel and the three times as many hardest
    background pixels (at least 64 a batch), plus dice: plates are a sliver of a frame."""
    bce = functional.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten()
    positive = target.flatten() > 0.5
    n_pos = int(positive.sum())
    negatives = bce[~positive]
    k = min(len(negatives), max(64, 3 * n_pos))
    hard = torch.topk(negatives, k).values
    ohem = (bce[positive].sum() + hard.sum()) / (n_pos + k)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    return ohem + dice


# -- validation --------------------------------------------------------------------------------


Frame = tuple[npt.NDArray[np.float32], tuple[float, float], list[tuple[float, float, float, float]]]


def validation_frames(seed: int) -> dict[str, list[Frame]]:
    """The held-back fifth of the real tuning frames, rendered 1920x1080 scenes of every format
    and those scenes with two more rendered plates pasted in; as the runtime's input tensors."""
    sets: dict[str, list[tuple[BGR, Quads]]] = {
        f"held-back {name}": frames for name, frames in real_frames(validation=True).items()
    }
    rendered = [(f, q) for f, q, _ in rendered_scenes(seed, VALIDATION_PER_FORMAT, (1920, 1080))]
    sets["rendered 1920x1080"] = rendered
    rng = np.random.default_rng(seed)
    plates = flat_plates(seed, 60)
    sets["rendered, 3 plates"] = [paste(f, q, plates, rng, 2) for f, q in rendered[::3]]
    out: dict[str, list[Frame]] = {}
    for name, frames in sets.items():
        out[name] = []
        for image, quads in frames:
            height, width = image.shape[:2]
            size = input_size(height, width, SETTINGS.max_side)
            factor = (width / size[0], height / size[1])
            labels = [bounds(quad) for quad in quads]
            out[name].append((frame_tensor(image, size), factor, labels))
    return out


def validate(
    model: PlateNet, frames: dict[str, list[Frame]], settings: PlateDetectorSettings = SETTINGS
) -> dict[str, dict[str, float]]:
    """Recall of every plate at IoU 0.5 and 0.3 and boxes a frame, per validation set."""
    model.eval()
    figures = {}
    with torch.no_grad():
        for name, items in frames.items():
            ious, boxes = [], []
            for tensor, factor, labels in items:
                probability = torch.sigmoid(model(torch.from_numpy(tensor)))[0, 0].numpy()
                found = [b.quad for b in blobs_to_boxes(probability, settings, INPUT, factor)]
                ious += [best_iou(label, found) for label in labels]
                boxes.append(len(found))
            figures[name] = summary(ious, boxes, [])
    model.train()
    return figures


def merit(figures: dict[str, dict[str, float]]) -> float:
    """Recall of the real plates (pooled: some sets hold a frame or two) plus that of the
    rendered ones; a spurious box costs a little."""
    real = [f for name, f in figures.items() if name.startswith("held-back")]
    rendered = [f for name, f in figures.items() if not name.startswith("held-back")]
    pooled = sum(f["recall_iou50"] * f["plates"] for f in real) / max(
        1.0, sum(f["plates"] for f in real)
    )
    boxes = np.mean([f["boxes_per_frame"] for f in figures.values()])
    return pooled + float(np.mean([f["recall_iou50"] for f in rendered])) - 0.01 * float(boxes)


# -- training ----------------------------------------------------------------------------------


def learning_rate(progress: float, peak: float) -> float:
    if progress < 0.03:
        return peak * (0.1 + 0.9 * progress / 0.03)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - 0.03) / 0.97))))


def train(
    model: PlateNet,
    scenes: dict[str, list[Scene]],
    crops: Sequence[npt.NDArray[np.uint8]],
    held_out: dict[str, list[Frame]],
    args: argparse.Namespace,
) -> tuple[PlateNet, int, dict[str, dict[str, float]]]:
    rng = np.random.default_rng(args.seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=1e-4)
    budget, started = args.minutes * 60, time.monotonic()
    best, best_merit, best_figures = copy.deepcopy(model.state_dict()), -1.0, {}
    next_check, step, losses = budget * 0.4, 0, []
    model.train()
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= budget or elapsed >= next_check:
            figures = validate(model, held_out)
            score = merit(figures)
            recalls = {k: v["recall_iou50"] for k, v in figures.items()}
            print(f"step {step} validation merit {score:.3f} recall@0.5 {recalls}", flush=True)
            if score >= best_merit:
                best, best_merit, best_figures = copy.deepcopy(model.state_dict()), score, figures
            if elapsed >= budget:
                break
            next_check += budget * 0.1
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(elapsed / budget, args.learning_rate)
        images, targets = batch(scenes, crops, rng, args.batch_size)
        loss = loss_of(model(images), targets)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        losses.append(loss.item())
        step += 1
        if step % 100 == 0:
            print(
                f"step {step}  loss {np.mean(losses[-100:]):.4f}  {elapsed / 60:.1f} min",
                flush=True,
            )
    model.load_state_dict(best)
    return model, step, best_figures


def thresholds(model: PlateNet, held_out: dict[str, list[Frame]]) -> None:
    """Validation figures of the thresholds and overshoots the runtime's defaults are chosen
    from (PlateDetectorSettings)."""
    for threshold in (0.4, 0.5, 0.6):
        for overshoot in (0.0, 0.5, 1.0):
            settings = PlateDetectorSettings(threshold=threshold, overshoot=overshoot)
            figures = validate(model, held_out, settings)
            recalls = {k: v["recall_iou50"] for k, v in figures.items()}
            boxes = {k: v["boxes_per_frame"] for k, v in figures.items()}
            print(
                f"threshold {threshold} overshoot {overshoot}: merit {merit(figures):.3f} "
                f"recall@0.5 {recalls} boxes {boxes}",
                flush=True,
            )


def revalidate(folder: Path) -> None:
    """The card's validation figures again, of the shipped file with the runtime's current
    defaults (after a change of PlateDetectorSettings; the weights are not touched)."""
    card = load_info(folder)
    figures = onnx_figures(folder, validation_frames(VALIDATION_SEED))
    card = card.model_copy(update={"validation": validation_report(figures, VALIDATION_SEED)})
    _write_card(folder, card)
    print(card.validation.model_dump_json(indent=2))


def export(model: PlateNet, path: Path) -> None:
    model.eval()
    torch.onnx.export(
        Probabilities(model),
        (torch.zeros(1, 3, 384, 640),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["image"],
        output_names=["probability"],
        dynamic_axes={
            "image": {0: "batch", 2: "height", 3: "width"},
            "probability": {0: "batch", 2: "height", 3: "width"},
        },
    )


def _write_card(folder: Path, info: PlateDetectorInfo) -> None:
    text = info.model_dump_json(indent=2)
    (folder / f"{MODEL_NAME}.json").write_text(text + "\n", encoding="utf-8")


def validation_report(figures: dict[str, dict[str, float]], seed: int) -> ValidationReport:
    return ValidationReport(
        seed=seed,
        plates={k: int(v["plates"]) for k, v in figures.items()},
        recall_iou50={k: v["recall_iou50"] for k, v in figures.items()},
        recall_iou30={k: v["recall_iou30"] for k, v in figures.items()},
        boxes_per_frame={k: v["boxes_per_frame"] for k, v in figures.items()},
    )


def onnx_figures(folder: Path, frames: dict[str, list[Frame]]) -> dict[str, dict[str, float]]:
    """The validation figures of the exported file through the runtime's session."""
    detector = PlateDetector(folder)
    figures = {}
    for name, items in frames.items():
        ious, boxes = [], []
        for tensor, factor, labels in items:
            output = detector._session.run(None, {detector._input: tensor})[0][0, 0]
            found = [b.quad for b in blobs_to_boxes(output, SETTINGS, INPUT, factor)]
            ious += [best_iou(label, found) for label in labels]
            boxes.append(len(found))
        figures[name] = summary(ious, boxes, [])
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    parser.add_argument("--per-format", type=int, default=SCENES_PER_FORMAT)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED, help="of the training data")
    parser.add_argument("--out", type=Path, default=MODELS)
    parser.add_argument(
        "--revalidate", action="store_true",
        help="only recompute the card's validation figures of the model in --out",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.revalidate:
        revalidate(args.out)
        return

    started = time.monotonic()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    scenes, crops, counts = training_scenes(args.seed, args.per_format)
    held_out = validation_frames(VALIDATION_SEED)
    print(f"validation: { {k: len(v) for k, v in held_out.items()} }", flush=True)

    model = PlateNet()
    model, steps, _ = train(model, scenes, crops, held_out, args)
    thresholds(model, held_out)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out / WEIGHTS.name)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        onnx = folder / f"{MODEL_NAME}.onnx"
        export(model, onnx)
        training = TrainingReport(
            seed=args.seed,
            steps=steps,
            batch_size=args.batch_size,
            crop=CROP,
            minutes=args.minutes,
            wall_time_s=0.0,
            sources=counts,
            sources_note=(
                "a training crop comes from a real frame (30%), a rendered scene (30%), or one "
                "of them with 1-3 plate crops pasted in with perspective (40%); real labels are "
                "the largest plate's axis-aligned box, a second unlabelled plate in a frame is "
                "left as background (label noise accepted)"
            ),
            augmentation=AUGMENTATION,
            torch=torch.__version__,
        )

        def info(validation: ValidationReport, wall: float) -> PlateDetectorInfo:
            return PlateDetectorInfo(
                model=onnx.name,
                sha256=hashlib.sha256(onnx.read_bytes()).hexdigest(),
                architecture=model.describe(),
                parameters=sum(p.numel() for p in model.parameters()),
                input=INPUT,
                training=training.model_copy(update={"wall_time_s": round(wall, 1)}),
                validation=validation,
            )

        _write_card(folder, info(validation_report({}, VALIDATION_SEED), 0.0))
        figures = onnx_figures(folder, held_out)
        card = info(validation_report(figures, VALIDATION_SEED), time.monotonic() - started)
        _write_card(folder, card)
        for name in (onnx.name, f"{MODEL_NAME}.json"):
            shutil.copyfile(folder / name, args.out / name)
    print(card.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
