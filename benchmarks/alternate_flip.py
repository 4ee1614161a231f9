"""Test-time flip at no cost? Mirror every other frame's crop and let the smoother average, against one pass per
frame and against flip averaging in every frame (twice the model calls).

    python -m benchmarks.alternate_flip [--split test] [--frames 16] [--labels ferplus]

Each face becomes a short sequence of `frames` frames at 30 FPS: the same 48x48 face under small random framing
jitter (a shift of up to 2 px, a scale of +/-5%, a turn of up to 3 degrees: what a detector's boxes do from frame
to frame). Each frame goes through the engine (int8 by default, as the app runs), then through the app's own
smoothing (runtime/tracking.py: the label's time constant 0.4 s, the mood's 3 s). Scored: the smoothed label and
the mood after the last frame, against the crowd's majority label (FER+) or FER2013's, on every face.
"""
from __future__ import annotations

import argparse
import math
import sys

import cv2
import numpy as np

from benchmarks.machine import describe, save
from emotion_dj.core.contract import onnx_path
from emotion_dj.core.paths import WEIGHTS_DIR
from emotion_dj.runtime.engines import create_engine
from emotion_dj.runtime.tracking import FaceTracker
from emotion_dj.train.data import load_fer2013

FPS = 30.0


def jittered(face: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """frames x 48 x 48: the face under small random affine jitter (border replicated, as a crop near an edge)."""
    size = face.shape[0]
    out = np.empty((frames, size, size), np.uint8)
    for i in range(frames):
        angle, scale = rng.uniform(-3, 3), rng.uniform(0.95, 1.05)
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
        matrix[:, 2] += rng.uniform(-2, 2, 2)
        out[i] = cv2.warpAffine(face, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def smoothed(probs: np.ndarray, tracker: FaceTracker) -> tuple[np.ndarray, np.ndarray]:
    """The tracker's two moving averages over one face's per-frame probabilities (frames x classes)."""
    label, mood = probs[0].astype(np.float64), probs[0].astype(np.float64)
    label_step = 1.0 - math.exp(-(1.0 / FPS) / tracker.label_tau)
    mood_step = 1.0 - math.exp(-(1.0 / FPS) / tracker.mood_tau)
    for row in probs[1:]:
        label += label_step * (row - label)
        mood += mood_step * (row - mood)
    return label, mood


def score(predictions: np.ndarray, labels: np.ndarray, classes: int) -> dict:
    recall = [float((predictions[labels == c] == c).mean()) if (labels == c).any() else 0.0 for c in range(classes)]
    return {"accuracy": float((predictions == labels).mean()), "macro_recall": float(np.mean(recall))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.alternate_flip", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER2013 folder (default: $FER2013_DIR)")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--labels", default="ferplus", choices=("fer2013", "ferplus"))
    parser.add_argument("--precision", default="int8", choices=("fp32", "fp16", "int8"))
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--limit", type=int, default=0, help="only the first N faces (0: all)")
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-alternate_flip.json")
    args = parser.parse_args(argv)
    faces = load_fer2013(args.data, splits=(args.split,), drop_blank_in=(), labels=args.labels)[args.split]
    images, labels = faces.images, faces.labels
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    engine = create_engine("onnx", device="cpu", model=onnx_path(WEIGHTS_DIR, args.precision), threads=0)
    classes = len(engine.info.classes)
    tracker = FaceTracker()
    rng = np.random.default_rng(0)
    variants = ("single pass", "mirror every other frame", "flip average every frame")
    finals = {v: {"label": [], "mood": []} for v in variants}
    for face in images:
        sequence = jittered(face, args.frames, rng)[:, None]
        mirrored = np.ascontiguousarray(sequence[..., ::-1])
        plain = engine.infer(sequence)
        flipped = engine.infer(mirrored)
        alternate = plain.copy()
        alternate[1::2] = flipped[1::2]  # odd frames see the mirror: one model call per frame, as the plain pass
        for name, probs in zip(variants, (plain, alternate, 0.5 * (plain + flipped))):
            label, mood = smoothed(probs, tracker)
            finals[name]["label"].append(int(label.argmax()))
            finals[name]["mood"].append(int(mood.argmax()))
    result = {"machine": describe(), "kind": "alternate_flip", "split": args.split, "labels": args.labels,
              "rule": "FER+ reference majority rule" if args.labels == "ferplus" else "FER2013 labels",
              "faces": int(len(labels)), "frames_per_face": args.frames, "precision": args.precision,
              "model_calls_per_frame": {"single pass": 1, "mirror every other frame": 1, "flip average every frame": 2},
              "results": {}}
    for name in variants:
        result["results"][name] = {kind: score(np.array(finals[name][kind]), labels, classes) for kind in ("label", "mood")}
        row = result["results"][name]
        print(f"{name:<28} smoothed label {row['label']['accuracy'] * 100:.2f}% (macro recall "
              f"{row['label']['macro_recall'] * 100:.2f}%), mood {row['mood']['accuracy'] * 100:.2f}%")
    save(result, "alternate_flip", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
