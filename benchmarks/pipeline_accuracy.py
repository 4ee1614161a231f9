"""End-to-end accuracy: FER2013 faces placed in full frames, through the runtime's own detector, cropper and
engine, against the same model on the same faces' ready-made 48x48 crops.

    python -m benchmarks.pipeline_accuracy --split test                 # report (YuNet and Haar)
    python -m benchmarks.pipeline_accuracy --split val --fit [--apply]  # fit the crop on val; --apply writes it

Faces are placed in frames by train/placed_faces.py (padded, 60 to 300 pixels, random position, background
and brightness, seeded). Each frame goes through FrameProcessor.process, the frame path run_edge.py runs;
the main face's unsmoothed output (`raw`) is scored.

Detection rate: the share of placed faces whose main detection overlaps the placed face (IoU >= 0.3). Padded
48-pixel FER2013 images are low-resolution, tightly cropped faces, much harder to detect than a camera's
faces, so the rate says how often a detector finds such faces, not how often it finds a user. The accuracy
and the gap are measured on the faces that were found, against the direct-crop accuracy of those same faces.
"""
from __future__ import annotations

import argparse
import logging
import math
from dataclasses import asdict, replace

import cv2
import numpy as np

from benchmarks.machine import describe, save
from emotion_dj.core.contract import CropSpec, onnx_path
from emotion_dj.core.paths import WEIGHTS_DIR
from emotion_dj.runtime.detectors import create_detector
from emotion_dj.runtime.engines import create_engine
from emotion_dj.runtime.faces import FaceCropper
from emotion_dj.runtime.frames import Frame
from emotion_dj.runtime.processor import FrameProcessor
from emotion_dj.train.data import load_fer2013
from emotion_dj.train.metrics import classification_report
from emotion_dj.train.placed_faces import (
    FACE_SIZES,
    PADDING,
    Found,
    Placement,
    crops_for,
    detect_all,
    is_the_placed_face,
    placements,
    render,
)

log = logging.getLogger("benchmarks.pipeline_accuracy")
def pipeline_probs(engine, detector, faces: np.ndarray, where: list[Placement]) -> tuple[np.ndarray, np.ndarray]:
    """(hit mask, raw probabilities of the main face) through FrameProcessor.process, the run_edge.py frame path."""
    hits = np.zeros(len(faces), bool)
    probs = np.zeros((len(faces), len(engine.info.classes)), np.float32)
    for i, (face, p) in enumerate(zip(faces, where)):
        processor = FrameProcessor(detector, engine)  # a fresh tracker: each image is its own scene
        frame, truth = render(face, p)
        result = processor.process(Frame(0, 0.0, frame))
        if not result.faces:
            continue
        main = max(result.faces, key=lambda f: f.box[2] * f.box[3])
        hits[i] = is_the_placed_face(main.box, truth)
        probs[i] = main.raw
    return hits, probs


def fit_landmark_rule(found: list[Found], where: list[Placement], ridge: float = 1e-3) -> tuple[float, ...]:
    """CropSpec.landmark_weights: least squares (lightly ridge-regularised, the constant free) from each found face's
    LANDMARK_FEATURES to where its own FER2013 crop lies, in its eye frame: centre x, centre y, log side."""
    cropper = FaceCropper(1, max_faces=1, spec=CropSpec(eye_scale=1.0))
    features, targets = [], []
    for f, p in zip(found, where):
        frame = cropper.eye_frame(f.box, f.landmarks) if f.hit and f.landmarks is not None else None
        if frame is None:
            continue
        mid_x, mid_y, cos, sin, distance = frame
        x, y = p.x + p.size / 2.0 - mid_x, p.y + p.size / 2.0 - mid_y  # the placed crop's centre
        features.append(cropper.features.copy())
        targets.append(((cos * x + sin * y) / distance, (-sin * x + cos * y) / distance, math.log(p.size / distance)))
    x, y = np.array(features), np.array(targets)
    penalty = ridge * len(x) * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    # lstsq, not solve: collinear landmarks (e.g. mouth corners rigid with the eyes) get the minimum-norm fit
    weights = np.linalg.lstsq(x.T @ x + penalty, x.T @ y, rcond=None)[0]
    residual = y - x @ weights
    log.info("landmark rule fitted on %d faces: residual std %s (centre x, centre y in eye distances; log side), "
             "%s with the constant alone", len(x), residual.std(axis=0).round(3), (y - y.mean(axis=0)).std(axis=0).round(3))
    return tuple(round(float(w), 5) + 0.0 for w in weights.ravel())


def fit_box_rule(engine, faces: np.ndarray, where: list[Placement], found: list[Found], spec: CropSpec) -> CropSpec:
    """Coordinate search for the box rule whose predictions agree best with the direct crops' (cross-entropy)."""
    size = engine.info.input_size
    direct = engine.infer_many(faces[:, None])
    hit = np.array([f.hit for f in found])
    box_only = [replace(f, landmarks=None) for f in found]  # the box rule, whatever the detector gives

    def score(candidate: CropSpec) -> float:
        probs = engine.infer_many(crops_for(candidate, size, faces, where, box_only))
        return float(-(direct[hit] * np.log(np.maximum(probs, 1e-7))).sum(axis=1).mean())

    grid = {"margin": np.arange(-0.25, 0.21, 0.05), "shift_y": np.arange(-0.12, 0.121, 0.02),
            "shift_x": np.arange(-0.04, 0.041, 0.02)}
    for _ in range(2):  # two rounds of coordinate descent
        for name, values in grid.items():
            scores = {float(v): score(replace(spec, **{name: round(float(v), 4)})) for v in values}
            best = min(scores, key=scores.get)
            spec = replace(spec, **{name: round(best, 4) + 0.0})  # + 0.0: no "-0.0" in the metadata
            log.info("fit box rule %s = %.3f (cross-entropy %.4f)", name, best, scores[best])
    return spec


def fit(engine, faces: np.ndarray, where: list[Placement], found: dict[str, list[Found]], base: CropSpec) -> CropSpec:
    """The landmark rule from YuNet's landmarks (where FER2013's crops lie), the box rule from Haar's boxes."""
    spec = base
    if "yunet" in found:
        spec = replace(spec, landmark_weights=fit_landmark_rule(found["yunet"], where))
    if "haar" in found:
        spec = fit_box_rule(engine, faces, where, found["haar"], spec)
    return replace(spec, fitted_on="FER2013 val (PublicTest) placed in frames, benchmarks/pipeline_accuracy.py --fit")


def face_draws(face_of: np.ndarray, rounds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap draws over whole faces: each row counts how often each face is drawn (its placements travel
    together, since the frames of one face are not independent), and which face each placement belongs to."""
    faces, index = np.unique(face_of, return_inverse=True)
    draws = np.random.default_rng(seed).multinomial(len(faces), np.full(len(faces), 1.0 / len(faces)), size=rounds)
    return draws.astype(float), index


def gap_interval(direct_right: np.ndarray, pipeline_right: np.ndarray, face_of: np.ndarray, rounds: int = 2000,
                 seed: int = 0) -> list[float]:
    """95% interval of the accuracy gap in points, by a bootstrap over faces."""
    draws, index = face_draws(face_of, rounds, seed)
    difference = np.bincount(index, weights=direct_right.astype(float) - pipeline_right)
    counted = np.bincount(index).astype(float)
    gaps = (draws @ difference) / (draws @ counted) * 100
    return [round(float(v), 2) for v in np.percentile(gaps, [2.5, 97.5])]


def macro_recall_gap_interval(labels: np.ndarray, direct_predictions: np.ndarray, pipeline_predictions: np.ndarray,
                              face_of: np.ndarray, num_classes: int, rounds: int = 2000, seed: int = 0) -> list[float]:
    """95% interval of the macro-recall gap in points, by the same bootstrap over faces. Rare classes rest on few
    faces, so a few of them decide this gap: the interval says how far it can be trusted."""
    draws, index = face_draws(face_of, rounds, seed)

    def per_face_class(weights: np.ndarray) -> np.ndarray:
        table = np.zeros((draws.shape[1], num_classes))
        np.add.at(table, (index, labels), weights)
        return table

    support = np.maximum(draws @ per_face_class(np.ones(len(labels))), 1)  # a class absent from a draw counts 0
    recall = {name: ((draws @ per_face_class((predictions == labels).astype(float))) / support).mean(axis=1)
              for name, predictions in (("direct", direct_predictions), ("pipeline", pipeline_predictions))}
    gaps = (recall["direct"] - recall["pipeline"]) * 100
    return [round(float(v), 2) for v in np.percentile(gaps, [2.5, 97.5])]


def report(engine, detector_name: str, faces: np.ndarray, labels: np.ndarray, where: list[Placement],
           face_of: np.ndarray | None = None) -> dict:
    """face_of: which source face each frame shows (frames of one face share a number); default one face each."""
    face_of = np.arange(len(faces)) if face_of is None else face_of
    detector = create_detector(detector_name)
    hits, probs = pipeline_probs(engine, detector, faces, where)
    direct = engine.infer_many(faces[:, None])
    classes = engine.info.classes

    def scores(considered: np.ndarray) -> dict:
        """Detection rate over the considered faces; accuracy and gap over those of them that were detected."""
        found = considered & hits
        out = {"faces": int(considered.sum()), "detected": int(found.sum()),
               "detection_rate": round(float(found.sum() / max(1, considered.sum())), 4)}
        if not found.any():
            return out
        pipe = classification_report(probs[found], labels[found], classes)
        same = classification_report(direct[found], labels[found], classes)
        return {**out, "accuracy": round(pipe["accuracy"], 4), "macro_recall": round(pipe["macro_recall"], 4),
                "macro_f1": round(pipe["macro_f1"], 4), "direct_accuracy": round(same["accuracy"], 4),
                "direct_macro_recall": round(same["macro_recall"], 4), "direct_macro_f1": round(same["macro_f1"], 4),
                "gap_points": round((same["accuracy"] - pipe["accuracy"]) * 100, 2),
                "macro_recall_gap_points": round((same["macro_recall"] - pipe["macro_recall"]) * 100, 2)}

    sizes = np.array([p.size for p in where])
    out = {"detector": detector.describe(), **scores(np.ones(len(faces), bool)),
           "by_face_size": {str(size): scores(sizes == size) for size in FACE_SIZES}}
    if hits.any():
        out["gap_ci95"] = gap_interval(direct[hits].argmax(1) == labels[hits], probs[hits].argmax(1) == labels[hits],
                                       face_of[hits])
        out["macro_recall_gap_ci95"] = macro_recall_gap_interval(labels[hits], direct[hits].argmax(1),
                                                                 probs[hits].argmax(1), face_of[hits], len(classes))
    return out


def run(data: str | None, split: str, limit: int, seed: int, detectors: tuple[str, ...], precision: str,
        crop: CropSpec | None = None, every_size: bool = False, label_set: str = "fer2013") -> dict:
    loaded = load_fer2013(data, splits=(split,), drop_blank_in=(), labels=label_set)[split]
    engine = create_engine("onnx", precision, "cpu")
    if crop is not None:  # e.g. the framing used before the fit, for comparison
        engine.info = replace(engine.info, crop=crop)
    order = np.random.default_rng(seed).permutation(len(loaded))[:limit] if limit else np.arange(len(loaded))
    faces, labels = loaded.images[order], loaded.labels[order]
    per_face = len(FACE_SIZES) if every_size else 1
    if every_size:  # placements cycle through the sizes, so consecutive copies of a face get every size once
        faces, labels = np.repeat(faces, per_face, axis=0), np.repeat(labels, per_face)
    where = placements(len(faces), seed)
    result = {"machine": describe(), "kind": "pipeline_accuracy", "split": split, "seed": seed,
              "labels": "FER+ (reference majority rule)" if label_set == "ferplus" else "FER2013",
              "faces": len(faces) // per_face, "placements_per_face": per_face,
              "engine": engine.describe(), "crop": asdict(engine.info.crop), "face_sizes": list(FACE_SIZES),
              "padding": PADDING, "results": {}}
    for name in detectors:
        result["results"][name] = report(engine, name, faces, labels, where, np.arange(len(faces)) // per_face)
        r = result["results"][name]
        log.info("%-6s detected %d/%d (%.1f%%)  accuracy %.2f%% vs direct %.2f%% on the same faces: gap %.2f points; "
                 "macro recall %.2f%% vs %.2f%% (gap 95%% interval %s)", name, r["detected"], r["faces"], r["detection_rate"] * 100,
                 r["accuracy"] * 100, r["direct_accuracy"] * 100, r["gap_points"], r["macro_recall"] * 100,
                 r["direct_macro_recall"] * 100, r.get("macro_recall_gap_ci95"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline_accuracy", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER2013 (default: $FER2013_DIR)")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--limit", type=int, default=0, help="a deterministic subset of this many faces (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", default="yunet,haar")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--labels", default="fer2013", choices=("fer2013", "ferplus"),
                        help="score against FER2013's labels or the FER+ crowd's majority (the faces with one)")
    parser.add_argument("--every-size", action="store_true",
                        help="place each face once at every size (5 frames a face: a tighter estimate of the gap)")
    parser.add_argument("--fit", action="store_true",
                        help="fit the crop on this split (val only): the landmark rule on yunet, the box rule on haar")
    parser.add_argument("--apply", action="store_true", help="with --fit: write the fitted crop into weights/")
    parser.add_argument("--crop", type=CropSpec.from_json, help='another crop to measure, as JSON, e.g. \'{"margin": 0.15}\'')
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-pipeline_accuracy-<split>.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    if args.fit:
        if args.split != "val":
            parser.error("the crop is fitted on val only; test is for reporting")
        loaded = load_fer2013(args.data, splits=("val",), drop_blank_in=(), labels=args.labels)["val"]
        engine = create_engine("onnx", args.precision, "cpu")
        order = np.random.default_rng(args.seed).permutation(len(loaded))[:args.limit or len(loaded)]
        faces = np.repeat(loaded.images[order], len(FACE_SIZES) if args.every_size else 1, axis=0)
        where = placements(len(faces), args.seed)
        found = {name: detect_all(create_detector(name), faces, where) for name in args.detectors.split(",")}
        spec = fit(engine, faces, where, found, engine.info.crop)
        print(spec.to_json())
        if args.apply:
            from emotion_dj.export.metadata import set_crop

            set_crop(WEIGHTS_DIR, spec)
            print(f"wrote the crop into {onnx_path(WEIGHTS_DIR, 'fp32').parent}")
        return 0
    result = run(args.data, args.split, args.limit, args.seed, tuple(args.detectors.split(",")), args.precision, args.crop,
                 args.every_size, args.labels)
    save(result, f"pipeline_accuracy-{args.split}", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
