"""Every engine x precision that loads here: latency, throughput and PrivateTest accuracy, side by side.

    python -m benchmarks.engines [--json OUT] [--data DIR] [--quick]

Latency: p50/p95 of single calls at batch 1 after warm-up. Throughput: faces/s at batch 1, 8, 32, 64 over
repeated calls. Every engine returns numpy arrays on the host, so a call's time includes the device
synchronisation and copies (no asynchronous work escapes the timer). Accuracy: all PrivateTest faces
through the same engine (needs $FER2013_DIR; skipped without it).
"""
from __future__ import annotations

import argparse
import logging
import os
import time

import numpy as np

from benchmarks.machine import describe, save
from emotion_dj.core.errors import UserError
from emotion_dj.runtime.engines import create_engine

log = logging.getLogger("benchmarks.engines")
BATCHES = (1, 8, 32, 64)
# (engine, precision, device) in the order the table shows them
VARIANTS = [("torch", "fp32", "cpu"), ("torch", "fp16", "cpu"), ("torch", "fp32", "cuda"), ("torch", "fp16", "cuda"),
            ("onnx", "fp32", "cpu"), ("onnx", "fp16", "cpu"), ("onnx", "int8", "cpu"),
            ("onnx", "fp32", "cuda"), ("onnx", "fp16", "cuda"), ("onnx", "int8", "cuda"),
            ("trt", "fp32", "cuda"), ("trt", "fp16", "cuda"), ("trt", "int8", "cuda")]


def time_calls(engine, faces: np.ndarray, seconds: float, min_calls: int) -> np.ndarray:
    """Durations of repeated engine.infer(faces) calls: at least `min_calls`, for about `seconds`."""
    durations = []
    deadline = time.perf_counter() + seconds
    while len(durations) < min_calls or time.perf_counter() < deadline:
        start = time.perf_counter()
        engine.infer(faces)
        durations.append(time.perf_counter() - start)
    return np.asarray(durations)


def accuracy(engine, images: np.ndarray, labels: np.ndarray, batch: int = 64) -> float:
    return float((engine.infer_many(images, batch).argmax(1) == labels).mean())


def measure(engine, test_split, seconds: float) -> dict:
    size = engine.info.input_size
    rng = np.random.default_rng(0)
    faces = {b: rng.integers(0, 256, (b, 1, size, size), dtype=np.uint8) for b in BATCHES}
    if test_split is not None:  # real faces where we have them
        for b in BATCHES:
            faces[b] = np.ascontiguousarray(test_split[0][:b])
    for b in BATCHES:  # warm-up: lazy allocations, kernel selection, caches
        time_calls(engine, faces[b], 0.2, 10)
    single = time_calls(engine, faces[1], seconds, 200)
    row = {"latency_ms_p50": float(np.percentile(single, 50) * 1e3), "latency_ms_p95": float(np.percentile(single, 95) * 1e3),
           "throughput_faces_per_s": {}}
    for b in BATCHES:
        durations = single if b == 1 else time_calls(engine, faces[b], seconds, 20)
        row["throughput_faces_per_s"][str(b)] = float(b * len(durations) / durations.sum())
    if test_split is not None:
        row["accuracy_private_test"] = accuracy(engine, *test_split)
    return row


def load_private_test(data: str | None):
    if not (data or os.environ.get("FER2013_DIR")):
        log.warning("no FER2013 (--data / FER2013_DIR): accuracy column left empty, random faces timed")
        return None
    from emotion_dj.train.data import load_fer2013  # torch-free: numpy + OpenCV only

    split = load_fer2013(data, splits=("test",), drop_blank_in=())["test"]
    return np.ascontiguousarray(split.images[:, None]), split.labels


def run(data: str | None, seconds: float, variants=VARIANTS) -> dict:
    test_split = load_private_test(data)
    rows = []
    for engine_name, precision, device in variants:
        label = f"{engine_name} {precision} {device}"
        try:
            # ONNX Runtime with one thread per core here (a whole-model benchmark), one in run_edge.py's pipeline.
            engine = create_engine(engine_name, precision, device, **({"threads": 0} if engine_name == "onnx" else {}))
        except UserError as why:
            rows.append({"engine": engine_name, "precision": precision, "device": device, "status": f"not measured: {why}"})
            log.info("%-18s not measured: %s", label, why)
            continue
        row = {"engine": engine_name, "precision": precision, "device": device, "runs_on": engine.describe(),
               "status": "measured", **measure(engine, test_split, seconds)}
        rows.append(row)
        log.info("%-18s %-40s p50 %.3f ms  b64 %.0f faces/s  acc %s", label, row["runs_on"], row["latency_ms_p50"],
                 row["throughput_faces_per_s"]["64"], row.get("accuracy_private_test"))
    return {"machine": describe(), "kind": "engines", "seconds_per_measurement": seconds, "batches": list(BATCHES),
            "results": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="where to write the results (default: benchmarks/results/<machine>-engines.json)")
    parser.add_argument("--data", help="FER2013 for the accuracy column (default: $FER2013_DIR)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent per measurement")
    parser.add_argument("--quick", action="store_true", help="short measurements (for tests)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args.data, 0.1 if args.quick else args.seconds)
    save(result, "engines", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
