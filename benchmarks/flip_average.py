"""Test-time flip averaging: what it gains in accuracy against what it costs per face.

    python -m benchmarks.flip_average [--data DIR] [--seconds 2]

Exports the shipped checkpoint again with `--flip-average` (each face also runs mirrored inside the graph, the
two probability rows averaged) into a temporary folder, then measures it beside the shipped single-pass files:
val and test accuracy through ONNX Runtime, latency at batch 1 and faces/s at batch 64, for fp32 and int8. The
timings alternate between the two models round by round, so machine noise falls on both alike.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.engines import time_calls
from benchmarks.machine import describe, save
from emotion_dj.core.contract import checkpoint_path, onnx_path
from emotion_dj.core.paths import WEIGHTS_DIR
from emotion_dj.runtime.engines import create_engine
from emotion_dj.train.data import load_fer2013

log = logging.getLogger("benchmarks.flip_average")
ROUNDS = 5


def accuracies(engine, splits) -> dict[str, float]:
    return {name: round(float((engine.infer_many(s.images[:, None]).argmax(1) == s.labels).mean()), 4)
            for name, s in splits.items()}


def timings(engines: dict[str, object], faces: np.ndarray, seconds: float) -> dict[str, dict]:
    """Per model: median over ROUNDS alternating rounds of batch-1 p50 latency and batch-64 faces/s."""
    one, many = np.ascontiguousarray(faces[:1]), np.ascontiguousarray(faces[:64])
    rounds: dict[str, list] = {name: [] for name in engines}
    for engine in engines.values():  # warm-up
        time_calls(engine, one, 0.2, 10)
        time_calls(engine, many, 0.2, 5)
    for _ in range(ROUNDS):
        for name, engine in engines.items():
            single = time_calls(engine, one, seconds / 2, 50)
            batch = time_calls(engine, many, seconds / 2, 5)
            rounds[name].append((np.percentile(single, 50) * 1e3, 64 * len(batch) / batch.sum()))
    return {name: {"latency_ms_p50": round(float(np.median([r[0] for r in rows])), 3),
                   "faces_per_s_batch64": round(float(np.median([r[1] for r in rows])), 1)}
            for name, rows in rounds.items()}


def run(data: str | None, seconds: float) -> dict:
    from emotion_dj.export.cli import main as export_main

    splits = load_fer2013(data, splits=("val", "test"), drop_blank_in=())
    results = {}
    with tempfile.TemporaryDirectory(prefix="emotion-dj-flip-") as tmp:
        flip_dir = Path(tmp)
        code = export_main(["--weights", str(checkpoint_path(WEIGHTS_DIR)), "--formats", "onnx,onnx-int8",
                            "--flip-average", "--out", str(flip_dir), *(["--data", data] if data else [])])
        if code:
            raise SystemExit(code)
        for precision in ("fp32", "int8"):
            engines = {  # one thread, as run_edge.py runs the model beside detection
                "single": create_engine("onnx", precision, "cpu", threads=1),
                "flip": create_engine("onnx", precision, "cpu", threads=1,
                                      model=onnx_path(flip_dir, precision, checkpoint_path(WEIGHTS_DIR).stem)),
            }
            speed = timings(engines, splits["test"].images[:, None], seconds)
            for name, engine in engines.items():
                results[f"{precision} {name}"] = {"runs_on": engine.describe(), **accuracies(engine, splits),
                                                  **speed[name]}
                log.info("%-12s %s", f"{precision} {name}", results[f"{precision} {name}"])
    return {"machine": describe(), "kind": "flip_average", "rounds": ROUNDS, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flip_average", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER2013 (default: $FER2013_DIR)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per model per round")
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-flip_average.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    save(run(args.data, args.seconds), "flip_average", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
