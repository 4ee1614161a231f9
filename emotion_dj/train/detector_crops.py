"""Training faces as the live pipeline crops them: FER2013 train faces placed in frames, found by the runtime's
detectors and cut by its cropper with the model's fitted crop.

    python -m emotion_dj.train.detector_crops --data $FER2013_DIR --out runs/detector-crops.npz
    python -m emotion_dj.train --init weights/emotion_net.pt --extra-train runs/detector-crops.npz ...

A detector's framing differs from FER2013's own from face to face (the eye landmarks sit within ~0.07 of the
face's side of their mean place), and the model is sensitive to it: the same face cropped by YuNet and by
FER2013 gets a different answer about one time in five. Training on the detector's own crops teaches the model
that framing, which jitter of the ready-made crops only approximates. Only the train split is used; val and
test are for choosing and reporting (benchmarks/pipeline_accuracy.py).
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from emotion_dj.core.cli import EXIT_OK, OneLineErrorParser, run_cli, setup_logging
from emotion_dj.core.contract import CropSpec
from emotion_dj.core.errors import UserError
from emotion_dj.core.paths import WEIGHTS_DIR
from emotion_dj.runtime.detectors import create_detector
from emotion_dj.train.data import DatasetError, load_fer2013
from emotion_dj.train.placed_faces import crops_for, detect_all, placements

log = logging.getLogger("emotion_dj.train.detector_crops")


def detector_crops(faces: np.ndarray, labels: np.ndarray, detector_name: str, spec: CropSpec, size: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(crops N x size x size, labels) of the faces `detector_name` finds where they were placed."""
    where = placements(len(faces), seed)
    found = detect_all(create_detector(detector_name), faces, where)
    hit = np.array([f.hit for f in found])
    return crops_for(spec, size, faces, where, found)[:, 0], labels[hit]


def model_crop(weights_dir: Path) -> CropSpec:
    try:
        card = json.loads((weights_dir / "model_card.json").read_text())
        return CropSpec.from_json(json.dumps(card.get("crop") or {}))
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read the crop from {weights_dir / 'model_card.json'}: {error}") from None


def make(args) -> int:
    spec = args.crop or model_crop(args.weights)
    try:  # before the slow part, so a bad --out fails at once
        args.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot write {args.out}: {error}") from None
    split = load_fer2013(args.data, splits=("train",), drop_blank_in=("train",))["train"]
    order = np.random.default_rng(args.seed).permutation(len(split))[:args.limit or len(split)]
    faces, labels = split.images[order], split.labels[order]
    images, targets, origin = [], [], {}
    for k, name in enumerate(args.detectors.split(",")):
        started = time.perf_counter()
        # A different seed per detector: each sees the faces at other sizes and places.
        crops, crop_labels = detector_crops(faces, labels, name, spec, split.images.shape[-1], args.seed + 1 + k)
        images.append(crops)
        targets.append(crop_labels)
        origin[name] = len(crops)
        log.info("%s: %d of %d faces found and cropped (%.0f s)", name, len(crops), len(faces),
                 time.perf_counter() - started)
    np.savez_compressed(args.out, images=np.concatenate(images), labels=np.concatenate(targets),
                        about=json.dumps({"detectors": origin, "crop": json.loads(spec.to_json()), "seed": args.seed,
                                          "faces": len(faces), "split": "train"}))
    print(f"wrote {sum(origin.values())} crops to {args.out}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrorParser(prog="python -m emotion_dj.train.detector_crops", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER2013 folder or fer2013.csv (default: $FER2013_DIR)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write (images, labels)")
    parser.add_argument("--detectors", default="yunet,haar")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR, help="the model whose fitted crop is used")
    parser.add_argument("--crop", type=CropSpec.from_json, help="another crop, as JSON (default: the model card's)")
    parser.add_argument("--limit", type=int, default=0, help="a seeded subset of this many train faces (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    return run_cli(lambda: make(args), verbose=args.verbose, user_errors=(DatasetError,))


if __name__ == "__main__":
    sys.exit(main())
