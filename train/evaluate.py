"""Evaluate a checkpoint on a FER2013 split.

    python -m train.evaluate --weights weights/emotion_net.pt --data DIR --split test [--json out.json]
    python -m train.evaluate --weights weights/emotion_net.int8.onnx --data DIR --split test

Prints accuracy, macro-F1, per-class precision/recall and the expected calibration error before and
after temperature scaling. The temperature is the one stored with the model (fitted on val); a
checkpoint without one gets it fitted on val here, and the output says so. An exported .onnx file is
run on ONNX Runtime's CPU provider through the runtime's own engine, so the numbers are the deployed ones.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.cli import EXIT_OK, OneLineErrorParser, run_cli, setup_logging
from train.checkpoint import CheckpointError, build_model, load_checkpoint
from train.data import CLASSES, DatasetError, load_fer2013, resize_faces
from train.metrics import (
    classification_report,
    expected_calibration_error,
    fit_temperature,
    softmax,
)

log = logging.getLogger(__name__)


def normalize_batch(images_uint8: torch.Tensor, mean: float, std: float, img_size: int) -> torch.Tensor:
    """uint8 N x S0 x S0 (or N x 1 x S0 x S0) -> normalised float N x 1 x S x S, resized if S differs."""
    x = images_uint8.float().div_(255.0)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.shape[-1] != img_size:
        x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)
    return (x - mean) / std


@torch.no_grad()
def predict_logits(
    model: torch.nn.Module,
    images: np.ndarray,
    mean: float,
    std: float,
    device: torch.device,
    batch_size: int = 512,
    amp_dtype: torch.dtype | None = None,
) -> np.ndarray:
    model.eval()
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start:start + batch_size]).to(device)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(normalize_batch(batch, mean, std, model.img_size))
        chunks.append(logits.float().cpu().numpy())
    return np.concatenate(chunks)


def format_report(report: dict, title: str) -> str:
    lines = [f"{title}: n={report['n']}  accuracy={report['accuracy'] * 100:.2f}%  macro-F1={report['macro_f1'] * 100:.2f}%"]
    lines.append(f"  {'class':<10}{'precision':>10}{'recall':>9}{'f1':>8}{'support':>9}")
    for name, row in report["per_class"].items():
        lines.append(f"  {name:<10}{row['precision'] * 100:>9.1f}%{row['recall'] * 100:>8.1f}%{row['f1'] * 100:>7.1f}%{row['support']:>9}")
    return "\n".join(lines)


def evaluate_onnx(weights: str, data: str | None, split: str, batch_size: int = 512) -> dict:
    """An exported model: its graph already divides by the temperature and returns probabilities."""
    from runtime.engines import (
        create_engine,  # imported here: evaluating a checkpoint needs no ONNX Runtime
    )

    engine = create_engine("onnx", device="cpu", model=Path(weights), threads=0)  # batches: every core
    info = engine.info
    faces = load_fer2013(data, splits=(split,), drop_blank_in=())[split]
    images = resize_faces(faces.images, info.input_size)  # e.g. a 128x128 model
    probs = engine.infer_many(images[:, None], batch_size)
    calibrated = classification_report(probs, faces.labels, info.classes)
    # log(probs) * T is the logits up to a per-row constant, which softmax ignores: the uncalibrated probabilities.
    uncalibrated = softmax(np.log(np.maximum(probs, 1e-30)) * info.temperature)
    return {
        "weights": str(weights),
        "split": split,
        "engine": engine.describe(),
        "temperature": info.temperature,
        "temperature_source": "inside the ONNX graph (fitted on val)",
        "report": calibrated,
        "ece_before_temperature": expected_calibration_error(uncalibrated, faces.labels),
        "ece_after_temperature": calibrated["ece"],
    }


def evaluate(weights: str, data: str | None, split: str, batch_size: int = 512) -> dict:
    if Path(weights).suffix == ".onnx":
        return evaluate_onnx(weights, data, split, batch_size)
    checkpoint = load_checkpoint(weights)
    model = build_model(checkpoint)
    norm = checkpoint["normalization"]
    classes = tuple(checkpoint.get("classes", CLASSES))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    wanted = (split,) if checkpoint.get("temperature") else tuple(dict.fromkeys((split, "val")))
    splits = load_fer2013(data, splits=wanted, drop_blank_in=())
    logits = predict_logits(model, splits[split].images, norm["mean"], norm["std"], device, batch_size)
    labels = splits[split].labels
    temperature = checkpoint.get("temperature")
    temperature_source = "stored with the model (fitted on val)"
    if not temperature:
        val_logits = logits if split == "val" else predict_logits(model, splits["val"].images, norm["mean"], norm["std"], device, batch_size)
        temperature = fit_temperature(val_logits, splits["val"].labels)
        temperature_source = "fitted on val now (the checkpoint has none)"
    calibrated = classification_report(softmax(logits, temperature), labels, classes)
    return {
        "weights": str(weights),
        "split": split,
        "temperature": temperature,
        "temperature_source": temperature_source,
        "report": calibrated,
        "ece_before_temperature": expected_calibration_error(softmax(logits), labels),
        "ece_after_temperature": calibrated["ece"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrorParser(prog="python -m train.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="checkpoint (.pt) or exported model (.onnx)")
    parser.add_argument("--data", help="FER2013 folder or fer2013.csv (default: $FER2013_DIR)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--json", type=Path, help="also write the full result here")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    return run_cli(lambda: report_evaluation(args), verbose=args.verbose, user_errors=(CheckpointError, DatasetError))


def report_evaluation(args: argparse.Namespace) -> int:
    result = evaluate(args.weights, args.data, args.split, args.batch_size)
    report = result["report"]
    print(format_report(report, f"{args.split} ({Path(args.weights).name})"))
    if "engine" in result:
        print(f"engine: {result['engine']}")
    print(f"temperature {result['temperature']:.3f}, {result['temperature_source']}")
    print(f"ECE before temperature scaling {result['ece_before_temperature'] * 100:.2f}%, "
          f"after {result['ece_after_temperature'] * 100:.2f}%")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
