"""How long `run_edge.py report` takes on a long run: an hour of events at 30 FPS with two faces, generated.

    python -m benchmarks.mood_report [--lines 108000] [--json OUT]

The events are written by run_edge.py's own EventLog, then reported to PNG and JSON;
the time is the report's, from reading the first line to writing the picture.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import describe, save
from emotion_dj.runtime.frames import FaceResult, Frame, Result
from emotion_dj.runtime.outputs import EventLog
from emotion_dj.runtime.report import write_report

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def generate(path: Path, lines: int, fps: float = 30.0, seed: int = 0) -> None:
    """Two faces whose moods drift slowly (a random walk on the logits), with a P press every ten minutes,
    written by the runtime's own EventLog, so the lines are exactly what run_edge.py --events writes."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (2, len(CLASSES)))
    image = np.zeros((1, 1, 3), np.uint8)
    events = EventLog(path, CLASSES)
    for i in range(lines):
        logits += rng.normal(0, 0.05, logits.shape)
        probs = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
        faces = [FaceResult(k + 1, (100 + 300 * k, 120, 160, 160), p, p) for k, p in enumerate(probs)]
        events.frame(Result(Frame(i, i / fps, image), faces, True))
        if i % int(600 * fps) == int(300 * fps):
            events.event("mood_snapshot", t=round(i / fps, 3), face=1, playlist_mood="Feel Good", started=True)
    events.close()


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
