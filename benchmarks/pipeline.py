"""End-to-end FPS of run_edge.py's pipeline on a clip, against sequential loops on the same frames.

    python -m benchmarks.pipeline [--source CLIP] [--json OUT] [--repeats 3]

Three ways to process every frame of the same file, headless, each drawing its annotations:
  threaded    run_edge.py's App: capture, detect, infer threads + main-thread rendering
  sequential  the same work (YuNet at 320 px, one batched engine call per frame, tracking, drawing) in one loop
  prototype   the original prototype's style: one thread, Haar on the full frame, one PyTorch forward per face
Without --source, the reference clip (640x480, two moving faces, 300 frames) is generated deterministically.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.clip import reference_clip
from benchmarks.machine import describe, save
from emotion_dj.runtime.app import App, RunConfig, build_parts
from emotion_dj.runtime.detectors import create_detector
from emotion_dj.runtime.engines import create_engine
from emotion_dj.runtime.frames import FaceResult, Frame, Result
from emotion_dj.runtime.processor import FrameProcessor
from emotion_dj.runtime.render import Renderer
from emotion_dj.runtime.sources import open_source
from emotion_dj.runtime.stats import Timer

log = logging.getLogger("benchmarks.pipeline")


def threaded(clip: Path, engine: str, precision: str, device: str) -> dict:
    config = RunConfig(source=str(clip), engine=engine, precision=precision, device=device, detector="yunet",
                       headless=True, draw=True, pace=False, open_links=False)
    summary = App(config, build_parts(config)).run()
    stages = {k: vars(v) for k, v in summary.stages.items()}
    return {"frames": summary.frames_rendered, "fps": summary.fps, "stages": stages,
            "engine": summary.engine, "detector": summary.detector}


def sequential_loop(clip: Path, engine, detector, per_face: bool) -> dict:
    """One thread does everything. per_face: one forward per face (prototype) instead of one per frame."""
    source = open_source(str(clip))
    processor = FrameProcessor(detector, engine)  # the run_edge.py frame path, called in this thread
    renderer = Renderer(engine.info.classes)
    times = processor.times
    frames, started = 0, time.perf_counter()
    while True:
        with Timer(times, "decode"):
            image = source.read()
        if image is None:
            break
        frame = Frame(frames, frames / source.fps, image)
        result = prototype_step(processor, frame) if per_face else processor.process(frame)
        with Timer(times, "render"):
            renderer.draw_faces(image, result)
        frames += 1
    elapsed = time.perf_counter() - started
    source.close()
    return {"frames": frames, "fps": frames / elapsed, "stages": {k: vars(v) for k, v in times.summary().items()},
            "engine": engine.describe(), "detector": detector.describe()}


def prototype_step(processor: FrameProcessor, frame: Frame) -> Result:
    """Detect on the full frame, then one engine call per face, as the original prototype did."""
    with Timer(processor.times, "detect"):
        boxes = processor.detector.detect(frame.image).boxes
    probs = []
    with Timer(processor.times, "infer"):
        for box in boxes:
            probs.append(processor.engine.infer(processor.cropper.crop(frame.image, box[None])))
    stacked = np.concatenate(probs) if probs else np.empty((0, len(processor.engine.info.classes)), np.float32)
    with Timer(processor.times, "track"):
        tracks = processor.tracker.update(boxes, stacked, frame.timestamp)
    return Result(frame, [FaceResult(t.id, tuple(int(v) for v in t.box), t.probs.copy(), t.raw) for t in tracks], True)


def run(clip: Path, repeats: int, engine: str, precision: str, device: str) -> dict:
    runs: dict[str, list[dict]] = {"threaded": [], "sequential": [], "prototype": []}
    seq_engine = create_engine(engine, precision, device, **({"threads": 1} if engine == "onnx" else {}))
    yunet = create_detector("yunet", detect_width=320)
    proto_engine = create_engine("torch", "fp32", "cuda" if device == "cuda" else "cpu")
    haar = create_detector("haar", detect_width=0)
    for engine_ in (seq_engine, proto_engine):
        engine_.warmup()
    for _ in range(repeats):
        runs["threaded"].append(threaded(clip, engine, precision, device))
        runs["sequential"].append(sequential_loop(clip, seq_engine, yunet, per_face=False))
        runs["prototype"].append(sequential_loop(clip, proto_engine, haar, per_face=True))
    out = {}
    for name, results in runs.items():
        best = sorted(results, key=lambda r: r["fps"])[len(results) // 2]  # the median run, with its stages
        out[name] = {**best, "fps_runs": [round(r["fps"], 1) for r in results],
                     "fps_median": round(statistics.median(r["fps"] for r in results), 1)}
    out["speedup_vs_prototype"] = round(out["threaded"]["fps_median"] / out["prototype"]["fps_median"], 2)
    out["speedup_vs_sequential"] = round(out["threaded"]["fps_median"] / out["sequential"]["fps_median"], 2)
    return out


def bottleneck(stages: dict) -> dict:
    """The stage with the largest p50: in a pipeline of threads the slowest stage bounds the frame rate."""
    name = max(stages, key=lambda s: stages[s]["p50_ms"] if stages[s]["count"] else 0)
    return {"stage": name, "p50_ms": stages[name]["p50_ms"], "bound_fps": round(1000 / stages[name]["p50_ms"], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="video file (default: the generated reference clip)")
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-pipeline.json")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300, help="length of the generated reference clip")
    parser.add_argument("--engine", default="onnx")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    clip = args.source or reference_clip(frames=args.frames)
    result = run(clip, args.repeats, args.engine, args.precision, args.device)
    result["threaded"]["bottleneck"] = bottleneck(result["threaded"]["stages"])
    report = {"machine": describe(), "kind": "pipeline", "clip": {"path": str(clip), "generated": args.source is None,
              "frames": result["threaded"]["frames"], "size": "640x480" if args.source is None else "as given"},
              "results": result}
    for name in ("threaded", "sequential", "prototype"):
        r = result[name]
        log.info("%-10s %7.1f FPS (runs %s)  %s, %s", name, r["fps_median"], r["fps_runs"], r["engine"], r["detector"])
    log.info("speed-up: %.2fx the prototype, %.2fx the sequential loop; bottleneck %s", result["speedup_vs_prototype"],
             result["speedup_vs_sequential"], result["threaded"]["bottleneck"])
    save(report, "pipeline", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
