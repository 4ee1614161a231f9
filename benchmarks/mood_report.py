"""How long `run_edge.py report` takes on a long run: an hour of events at 30 FPS with two faces, generated.

    python -m benchmarks.mood_report [--lines 108000] [--json OUT]

The events are written in run_edge.py's own format (EventLog's line layout), then reported to PNG and JSON;
the time is the report's, from reading the first line to writing the picture.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe, save
from runtime.report import write_report

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def generate(path: Path, lines: int, fps: float = 30.0, seed: int = 0) -> None:
    """Two faces whose moods drift slowly (a random walk on the logits), with a P press every ten minutes."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (2, len(CLASSES)))
    with open(path, "w") as f:
        for i in range(lines):
            logits += rng.normal(0, 0.05, logits.shape)
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            faces = [{"id": k + 1, "box": [100 + 300 * k, 120, 160, 160], "label": CLASSES[int(p.argmax())],
                      "score": round(float(p.max()), 4), "probs": dict(zip(CLASSES, np.round(p, 4).tolist())),
                      "raw": dict(zip(CLASSES, np.round(p, 4).tolist()))} for k, p in enumerate(probs)]
            f.write(json.dumps({"frame": i, "t": round(i / fps, 4), "detected": True, "faces": faces},
                               separators=(",", ":")) + "\n")
            if i % int(600 * fps) == int(300 * fps):
                f.write(json.dumps({"event": "mood_snapshot", "t": round(i / fps, 3), "face": 1,
                                    "playlist_mood": "Feel Good", "started": True}) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mood_report", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=108_000, help="frame lines (108,000 = one hour at 30 FPS)")
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-mood_report.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        generate(events, args.lines)
        size = events.stat().st_size
        started = time.perf_counter()
        result = write_report(events, Path(tmp) / "mood.png", Path(tmp) / "mood.json")
        seconds = time.perf_counter() - started
    print(f"{args.lines} lines ({size / 1e6:.1f} MB, {result['duration_s'] / 60:.0f} min of events) reported in {seconds:.2f} s")
    save({"machine": describe(), "kind": "mood_report", "lines": args.lines, "bytes": size,
          "events_minutes": round(result["duration_s"] / 60, 1), "seconds": round(seconds, 2)}, "mood_report", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
