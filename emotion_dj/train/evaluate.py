"""Evaluate a checkpoint on a FER2013 split, against FER2013's labels or the FER+ crowd's.

    python -m emotion_dj.train.evaluate --weights weights/emotion_net.pt --data DIR --split test [--json out.json]
    python -m emotion_dj.train.evaluate --weights weights/emotion_net.onnx --labels ferplus --flip --split test

Prints accuracy, macro recall, macro-F1, per-class precision/recall and the expected calibration error before and
after temperature scaling; with --labels ferplus also the confusion matrix, the agreement with the crowd, the
calibration error against the votes and FER2013-label accuracy beside it. The temperature is the one stored with the model (fitted on val); a
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

from emotion_dj.core.cli import EXIT_OK, OneLineErrorParser, run_cli, setup_logging
from emotion_dj.train import ferplus as ferplus_labels
from emotion_dj.train.checkpoint import CheckpointError, build_model, load_checkpoint
from emotion_dj.train.data import CLASSES, LABEL_SETS, DatasetError, Split, load_fer2013, resize_faces, resolve_data_dir
from emotion_dj.train.metrics import (
    classification_report,
    crowd_agreement,
    expected_calibration_error,
    fit_temperature,
    softmax,
    vote_calibration_error,
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
    lines = [f"{title}: n={report['n']}  accuracy={report['accuracy'] * 100:.2f}%  macro recall="
             f"{report['macro_recall'] * 100:.2f}%  macro-F1={report['macro_f1'] * 100:.2f}%"]
    lines.append(f"  {'class':<10}{'precision':>10}{'recall':>9}{'f1':>8}{'support':>9}")
    for name, row in report["per_class"].items():
        lines.append(f"  {name:<10}{row['precision'] * 100:>9.1f}%{row['recall'] * 100:>8.1f}%{row['f1'] * 100:>7.1f}%{row['support']:>9}")
    return "\n".join(lines)


def onnx_probabilities(weights: str, images: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, dict]:
    """An exported model's probabilities (its graph already divides by the temperature) and what it is."""
    from emotion_dj.runtime.engines import (
        create_engine,  # imported here: evaluating a checkpoint needs no ONNX Runtime
    )

    engine = create_engine("onnx", device="cpu", model=Path(weights), threads=0)  # batches: every core
    info = engine.info
    probs = engine.infer_many(resize_faces(images, info.input_size)[:, None], batch_size)  # e.g. a 128x128 model
    return probs, {"classes": tuple(info.classes), "temperature": info.temperature, "engine": engine.describe(),
                   "temperature_source": "inside the ONNX graph (fitted on val)"}


def checkpoint_probabilities(checkpoint: dict, images: np.ndarray, val: Split | None,
                             batch_size: int = 512) -> tuple[np.ndarray, dict]:
    """A loaded checkpoint's calibrated probabilities; without a stored temperature it is fitted on `val` here."""
    model = build_model(checkpoint)
    norm = checkpoint["normalization"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    logits = predict_logits(model, images, norm["mean"], norm["std"], device, batch_size)
    temperature = checkpoint.get("temperature")
    source = "stored with the model (fitted on val)"
    if not temperature:
        if val is None:
            raise CheckpointError("the checkpoint has no temperature and no val split was loaded to fit one")
        val_logits = predict_logits(model, val.images, norm["mean"], norm["std"], device, batch_size)
        temperature = fit_temperature(val_logits, val.labels)
        source = "fitted on val now (the checkpoint has none)"
    return softmax(logits, temperature), {"classes": tuple(checkpoint.get("classes", CLASSES)), "temperature": temperature,
                                          "temperature_source": source}


def to_ferplus_classes(probs: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Probabilities over FER+'s 8 classes by name: a 7-class model gives contempt 0 (and scores 0 recall on it)."""
    out = np.zeros((len(probs), len(ferplus_labels.FERPLUS_CLASSES)), dtype=probs.dtype)
    for column, name in enumerate(classes):
        out[:, ferplus_labels.FERPLUS_CLASSES.index(name)] = probs[:, column]
    return out


def uncalibrated(probs: np.ndarray, temperature: float) -> np.ndarray:
    # log(probs) * T is the logits up to a per-row constant, which softmax ignores.
    return softmax(np.log(np.maximum(probs, 1e-30)) * temperature)


def evaluate(weights: str, data: str | None, split: str, batch_size: int = 512, labels: str = "fer2013",
             ferplus: str | None = None, flip: bool = False) -> dict:
    """Accuracy and calibration of a checkpoint (.pt) or an exported model (.onnx) on one split.

    labels="ferplus": the FER+ reference majority rule's faces and labels (8 classes), with macro recall, agreement with
    the crowd and calibration against the votes; FER2013's own labels on the whole split beside it. flip=True adds
    test-time flip averaging (the mean of each face's and its mirror's probabilities).
    """
    # A missing or foreign checkpoint fails first, before the data is read; it may need val for its temperature.
    checkpoint = None if Path(weights).suffix == ".onnx" else load_checkpoint(weights)
    wanted = tuple(dict.fromkeys((split, "val") if checkpoint is not None else (split,)))
    faces = load_fer2013(data, splits=wanted, drop_blank_in=())
    count = len(faces[split])
    images = faces[split].images
    if flip:  # the mirrored faces ride in the same pass (one model load, one run)
        images = np.concatenate([images, images[:, :, ::-1]])
    if checkpoint is None:
        every, about = onnx_probabilities(weights, images, batch_size)
    else:
        every, about = checkpoint_probabilities(checkpoint, images, faces.get("val"), batch_size)
    probs = every[:count]
    passes = {"single": probs}
    if flip:
        passes["flip"] = 0.5 * (probs + every[count:])
    result = {"weights": str(weights), "split": split, "labels": labels, **about, "classes": list(about["classes"])}
    fer2013_labels = faces[split].labels
    if labels == "fer2013":
        for name, p in passes.items():
            key = "report" if name == "single" else "report_flip"
            result[key] = classification_report(p, fer2013_labels, about["classes"])
        result["ece_before_temperature"] = expected_calibration_error(uncalibrated(probs, about["temperature"]), fer2013_labels)
        result["ece_after_temperature"] = result["report"]["ece"]
        return result
    probs_by_class = {name: to_ferplus_classes(p, about["classes"]) for name, p in passes.items()}
    passes, about["classes"] = probs_by_class, ferplus_labels.FERPLUS_CLASSES
    result["classes"] = list(about["classes"])
    crowd = ferplus_labels.relabel(faces[split], ferplus_labels.read_votes(
        ferplus_labels.resolve_labels_file(ferplus, resolve_data_dir(data))), "majority")
    row_of = {key: i for i, key in enumerate(faces[split].ids)}
    rows = np.array([row_of[key] for key in crowd.ids])
    for name, p in passes.items():
        suffix = "" if name == "single" else "_flip"
        report = classification_report(p[rows], crowd.labels, about["classes"])
        report["crowd_agreement"] = crowd_agreement(p[rows], crowd.votes)
        report["vote_calibration_error"] = vote_calibration_error(p[rows], crowd.votes)
        result["report" + suffix] = report
        # Continuity with earlier models: FER2013's own labels on the whole split (a contempt answer counts wrong).
        predictions = p.argmax(1)
        result["fer2013_accuracy" + suffix] = float((predictions == fer2013_labels).mean())
    result["fer2013_faces"] = int(len(fer2013_labels))
    result["ece_before_temperature"] = expected_calibration_error(
        uncalibrated(passes["single"][rows], about["temperature"]), crowd.labels)
    result["ece_after_temperature"] = result["report"]["ece"]
    return result


def evaluate_onnx(weights: str, data: str | None, split: str, batch_size: int = 512, labels: str = "fer2013") -> dict:
    """The deployed numbers of an exported model (the export's accuracy check calls this)."""
    return evaluate(weights, data, split, batch_size, labels=labels)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrorParser(prog="python -m emotion_dj.train.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="checkpoint (.pt) or exported model (.onnx)")
    parser.add_argument("--data", help="FER2013 folder or fer2013.csv (default: $FER2013_DIR)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--labels", default="fer2013", choices=LABEL_SETS,
                        help="score against FER2013's labels or the FER+ crowd's (reference majority rule)")
    parser.add_argument("--ferplus", help="FER+ votes file (default: $FERPLUS_LABELS, else ferplus/ beside the data)")
    parser.add_argument("--flip", action="store_true", help="also report test-time flip averaging")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--json", type=Path, help="also write the full result here")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    return run_cli(lambda: report_evaluation(args), verbose=args.verbose, user_errors=(CheckpointError, DatasetError))


def report_evaluation(args: argparse.Namespace) -> int:
    result = evaluate(args.weights, args.data, args.split, args.batch_size, args.labels, args.ferplus, args.flip)
    report = result["report"]
    rule = ", FER+ labels (reference majority rule)" if args.labels == "ferplus" else ", FER2013 labels"
    print(format_report(report, f"{args.split}{rule} ({Path(args.weights).name})"))
    if "report_flip" in result:
        flipped = result["report_flip"]
        print(f"with test-time flip: accuracy {flipped['accuracy'] * 100:.2f}%, macro recall {flipped['macro_recall'] * 100:.2f}%")
    if args.labels == "ferplus":
        classes = result["classes"]
        print("confusion matrix (rows: crowd's label, columns: model's answer):")
        print("  " + "".join(f"{name[:8]:>9}" for name in classes))
        for name, row in zip(classes, report["confusion_matrix"]):
            print(f"  {name[:8]:<8}" + "".join(f"{count:>9}" for count in row)[1:])
        print(f"agreement with the crowd (mean probability of a tagger's vote) {report['crowd_agreement'] * 100:.2f}%, "
              f"calibration error against the votes {report['vote_calibration_error'] * 100:.2f}%")
        print(f"FER2013's own labels, all {result['fer2013_faces']} faces: accuracy {result['fer2013_accuracy'] * 100:.2f}%"
              + (f" ({result['fer2013_accuracy_flip'] * 100:.2f}% with flip)" if args.flip else ""))
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
