"""Export a trained checkpoint.

    python -m export --weights W --formats onnx,onnx-fp16,onnx-int8[,trt] [--out DIR] [--data DIR]

onnx: fp32; onnx-fp16: weights and compute in half, same I/O; onnx-int8: explicit Q/DQ nodes from
ONNX Runtime's static quantizer, calibrated on training images (needs --data or $FER2013_DIR);
trt: a TensorRT plan built from the fp32 ONNX (or the precision given by --trt-precision) where
TensorRT exists. Where --out holds the fp32 ONNX afterwards, model_card.json is written beside it.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable

from export.metadata import metadata_props, write_model_card
from export.onnx_export import ExportError, export_onnx
from runtime.engines.trt_plan import TensorRTUnavailable
from runtime.model_files import onnx_path
from train.checkpoint import CheckpointError, load_checkpoint
from train.data import DatasetError

log = logging.getLogger("export")


def _onnx(precision: str) -> Callable:
    def run(checkpoint: dict, out: Path, stem: str, args: argparse.Namespace) -> Path:
        return export_onnx(checkpoint, onnx_path(out, precision, stem), precision)
    return run


def _int8(checkpoint: dict, out: Path, stem: str, args: argparse.Namespace) -> Path:
    from export.int8 import calibration_faces, quantize_int8
    from train.data import load_fer2013

    fp32 = onnx_path(out, "fp32", stem)
    if not fp32.is_file():
        export_onnx(checkpoint, fp32, "fp32")
    train_images = load_fer2013(args.data, splits=("train",))["train"].images
    faces = calibration_faces(train_images, args.calibration_images, checkpoint["model_config"]["img_size"])
    return quantize_int8(fp32, onnx_path(out, "int8", stem), faces, metadata_props(checkpoint, "int8"))


def _trt(checkpoint: dict, out: Path, stem: str, args: argparse.Namespace) -> Path:
    from runtime.engines.trt_plan import build_plan, import_tensorrt

    import_tensorrt()  # fail with the install hint before exporting anything
    source = onnx_path(out, args.trt_precision, stem)
    if not source.is_file():
        raise ExportError(f"{source} does not exist: export onnx{'' if args.trt_precision == 'fp32' else '-' + args.trt_precision} first")
    size = checkpoint["model_config"]["img_size"]
    return build_plan(source, "faces", size, args.trt_max_batch, out / f"{source.stem}.plan")


FORMATS: dict[str, Callable] = {"onnx": _onnx("fp32"), "onnx-fp16": _onnx("fp16"), "onnx-int8": _int8, "trt": _trt}


def parse_formats(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise ExportError(f"unknown format(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(FORMATS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="checkpoint (.pt) from python -m train")
    parser.add_argument("--formats", default="onnx,onnx-fp16,onnx-int8", help=f"comma-separated: {', '.join(FORMATS)}")
    parser.add_argument("--out", type=Path, help="output folder (default: the checkpoint's folder)")
    parser.add_argument("--data", help="FER2013 for int8 calibration (default: $FER2013_DIR)")
    parser.add_argument("--calibration-images", type=int, default=2048, help="training faces used to calibrate int8")
    parser.add_argument("--trt-precision", default="fp32", choices=("fp32", "fp16", "int8"))
    parser.add_argument("--trt-max-batch", type=int, default=64)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        formats = parse_formats(args.formats)
        checkpoint = load_checkpoint(args.weights)
        out = args.out or Path(args.weights).parent
        stem = Path(args.weights).stem
        written = {name: FORMATS[name](checkpoint, out, stem, args) for name in formats}
    except (ExportError, CheckpointError, DatasetError, TensorRTUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - e.g. a TensorRT build failure: one line unless --verbose
        if args.verbose:
            raise
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"{name:<10} {path}")
    onnx_files = {f"onnx-{p}": onnx_path(out, p, stem) for p in ("fp32", "fp16", "int8") if onnx_path(out, p, stem).is_file()}
    if "onnx-fp32" in onnx_files:
        print(f"model card {write_model_card(checkpoint, Path(args.weights), onnx_files, out)}")
    return 0
