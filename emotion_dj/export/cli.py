"""Export a trained checkpoint.

    python -m emotion_dj.export --weights W --formats onnx,onnx-fp16,onnx-int8[,trt] [--out DIR] [--data DIR]

onnx: fp32; onnx-fp16: weights and compute in half, same I/O; onnx-int8: explicit Q/DQ nodes from
ONNX Runtime's static quantizer, calibrated on training images (needs --data or $FER2013_DIR);
trt: builds the TensorRT plan of the ONNX of --trt-precision into the runtime's plan cache, under the key
`run_edge.py --engine trt` looks up (so the first run starts at once); needs TensorRT and a GPU.
Where --out holds the fp32 ONNX afterwards, model_card.json is written beside it, with each precision's
accuracy on val and test measured through ONNX Runtime when FER2013 is at hand (--precision auto reads it).
The crop rule fitted for the runtime's detectors (benchmarks/pipeline_accuracy.py --fit --apply) lives in the
weights folder, not in the checkpoint: a new model exported into that folder keeps it, and a --flip-average model
exported from a checkpoint in that folder takes it along.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from emotion_dj.core.cli import EXIT_OK, OneLineErrorParser, run_cli, setup_logging
from emotion_dj.core.contract import INPUT_NAME, CropSpec, onnx_path
from emotion_dj.export.metadata import metadata_props, write_model_card
from emotion_dj.export.onnx_export import ExportError, export_onnx
from emotion_dj.train.checkpoint import CheckpointError, load_checkpoint
from emotion_dj.train.data import DatasetError, resolve_data_dir


def _onnx(precision: str) -> Callable:
    def run(checkpoint: dict, out: Path, stem: str, args: argparse.Namespace) -> Path:
        return export_onnx(checkpoint, onnx_path(out, precision, stem), precision, args.flip_average)
    return run


def _int8(checkpoint: dict, out: Path, stem: str, args: argparse.Namespace) -> Path:
    from emotion_dj.export.int8 import calibration_faces, quantize_int8
    from emotion_dj.train.data import load_fer2013

    fp32 = onnx_path(out, "fp32", stem)
    if not fp32.is_file():
        export_onnx(checkpoint, fp32, "fp32", args.flip_average)
    train_images = load_fer2013(args.data, splits=("train",))["train"].images
    faces = calibration_faces(train_images, args.calibration_images, checkpoint["model_config"]["img_size"])
    return quantize_int8(fp32, onnx_path(out, "int8", stem), faces,
                        metadata_props(checkpoint, "int8", args.flip_average))


def _trt(checkpoint: dict, out: Path, stem: str, args: argparse.Namespace) -> Path:
    from emotion_dj.runtime.engines.trt_plan import BuildSettings, build_plan, gpu_name, import_cudart, import_tensorrt, plan_path

    trt = import_tensorrt()  # fail with the install hint before exporting anything
    gpu = gpu_name(import_cudart())
    source = onnx_path(out, args.trt_precision, stem)
    if not source.is_file():
        raise ExportError(f"{source} does not exist: export onnx{'' if args.trt_precision == 'fp32' else '-' + args.trt_precision} first")
    settings = BuildSettings()  # the runtime's settings, so the runtime finds this plan under its own key
    plan = plan_path(source, gpu, trt.__version__, settings)
    return build_plan(trt, source, INPUT_NAME, checkpoint["model_config"]["img_size"], settings, plan)


FORMATS: dict[str, Callable] = {"onnx": _onnx("fp32"), "onnx-fp16": _onnx("fp16"), "onnx-int8": _int8, "trt": _trt}


def parse_formats(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise ExportError(f"unknown format(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(FORMATS)}")
    return names


def precision_accuracies(files: dict[str, Path], data: str | None, labels: str = "fer2013") -> dict[str, dict]:
    """{precision: {split: {accuracy, macro_recall, macro_f1}}} for each exported ONNX, through the runtime's ONNX
    engine, against the labels the model was trained on (FER+: the reference majority rule)."""
    from emotion_dj.train.evaluate import evaluate_onnx

    out = {}
    for name, path in files.items():
        reports = {split: evaluate_onnx(str(path), data, split, labels=labels)["report"] for split in ("val", "test")}
        out[name.removeprefix("onnx-")] = {split: {"accuracy": r["accuracy"], "macro_recall": r["macro_recall"],
                                                   "macro_f1": r["macro_f1"]} for split, r in reports.items()}
    return out


def fitted_crop(card: Path) -> dict | None:
    """The fitted crop a model card records, or None where there is no card or its crop was never fitted."""
    if not card.is_file():
        return None
    try:  # a hand-edited or truncated card: not JSON, not an object, or a crop the contract rejects
        crop = json.loads(card.read_text()).get("crop") or {}
        spec = CropSpec.from_json(json.dumps(crop))
    except (ValueError, AttributeError, TypeError) as error:
        raise ExportError(f"{card} is not a model card ({error}): fix or remove it, then export again") from None
    return json.loads(spec.to_json()) if spec.fitted_on else None


def with_folder_crop(checkpoint: dict, out: Path, weights: Path) -> dict:
    """The checkpoint, carrying the crop already fitted for the runtime's detectors when it records none itself:
    the one in `out` (a new model into the shipped folder), else the one beside the checkpoint (a --flip-average
    model into a folder of its own)."""
    if checkpoint.get("crop"):
        return checkpoint
    for card in dict.fromkeys((out / "model_card.json", weights.parent / "model_card.json")):
        crop = fitted_crop(card)
        if crop:
            print(f"{'crop':<10} kept the fitted crop of {card} ({crop['fitted_on']})")
            return {**checkpoint, "crop": json.dumps(crop)}
    return checkpoint


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="python -m emotion_dj.export", description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="checkpoint (.pt) from python -m emotion_dj.train")
    parser.add_argument("--formats", default="onnx,onnx-fp16,onnx-int8", help=f"comma-separated: {', '.join(FORMATS)}")
    parser.add_argument("--out", type=Path, help="output folder (default: the checkpoint's folder)")
    parser.add_argument("--data", help="FER2013 for int8 calibration and the card's accuracies (default: $FER2013_DIR)")
    parser.add_argument("--calibration-images", type=int, default=2048, help="training faces used to calibrate int8")
    parser.add_argument("--flip-average", action="store_true",
                        help="mirror each face inside the graph and average the two answers (test-time augmentation, "
                             "twice the cost per face); needs an --out other than the checkpoint's folder")
    parser.add_argument("--trt-precision", default="fp32", choices=("fp32", "fp16", "int8"))
    parser.add_argument("--verbose", action="store_true")
    return parser


def export(args: argparse.Namespace) -> int:
    formats = parse_formats(args.formats)
    checkpoint = load_checkpoint(args.weights)
    out = args.out or Path(args.weights).parent
    if args.flip_average and out.resolve() == Path(args.weights).parent.resolve():
        raise ExportError("--flip-average writes a model of its own: give it an --out folder of its own, so the "
                          "single-pass model beside the checkpoint stays as it is")
    stem = Path(args.weights).stem
    checkpoint = with_folder_crop(checkpoint, out, Path(args.weights))
    written = {name: FORMATS[name](checkpoint, out, stem, args) for name in formats}
    for name, path in written.items():
        print(f"{name:<10} {path}")
    onnx_files = {f"onnx-{p}": onnx_path(out, p, stem) for p in ("fp32", "fp16", "int8") if onnx_path(out, p, stem).is_file()}
    if "onnx-fp32" in onnx_files:
        try:
            data = str(resolve_data_dir(args.data))
        except DatasetError:
            data = None
        accuracies = precision_accuracies(onnx_files, data, checkpoint.get("labels", "fer2013")) if data else {}
        card = write_model_card(checkpoint, Path(args.weights), onnx_files, out, accuracies, args.flip_average)
        print(f"model card {card}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from emotion_dj.runtime.engines import EngineUnavailable

    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return run_cli(lambda: export(args), verbose=args.verbose,
                   user_errors=(ExportError, CheckpointError, DatasetError, EngineUnavailable))
