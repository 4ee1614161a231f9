"""Before/after FPS of run_edge.py: two checkouts, the same clip, the same machine, runs interleaved.

    git worktree add /tmp/before <commit>
    python -m benchmarks.before_after --before /tmp/before [--repeats 3]

Each configuration runs `python run_edge.py --source <reference clip> --headless --summary-json ...` in the
`before` checkout and in this one, alternately, with an empty cache folder and no network (as a new user
offline), and the median FPS of each side is kept. Configurations: the defaults (no flags at all), then the
same explicit engine, precision and detector on both sides (a like-for-like check of the frame path).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.clip import reference_clip
from benchmarks.machine import describe, save
from emotion_dj.core.paths import PROJECT_ROOT, WEIGHTS_DIR

YUNET = str(WEIGHTS_DIR / "face_detection_yunet_2023mar.onnx")
CONFIGURATIONS = {
    "defaults": [],
    "onnx fp32 yunet": ["--engine", "onnx", "--precision", "fp32", "--detector", "yunet", "--yunet-model", YUNET],
    "onnx int8 yunet": ["--engine", "onnx", "--precision", "int8", "--detector", "yunet", "--yunet-model", YUNET],
}


def run_once(checkout: Path, clip: Path, flags: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EMOTION_DJ_CACHE": str(Path(tmp) / "cache"), "XDG_CACHE_HOME": str(Path(tmp) / "xdg"),
               "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}  # offline, empty cache
        for name in ("DISPLAY", "YUNET_MODEL", "EMOTION_DJ_PRECISION", "EMOTION_DJ_ENGINE", "EMOTION_DJ_DETECTOR"):
            env.pop(name, None)
        summary = Path(tmp) / "summary.json"
        done = subprocess.run([sys.executable, "run_edge.py", "--source", str(clip), "--headless", *flags,
                               "--summary-json", str(summary)], cwd=checkout, env=env, capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"{checkout}: run_edge.py failed: {done.stderr.strip()[-300:]}")
        result = json.loads(summary.read_text())
    return {"fps": result["fps"], "engine": result["engine"], "detector": result["detector"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.before_after", description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the earlier commit (git worktree)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-before_after.json")
    args = parser.parse_args(argv)
    clip = reference_clip()
    commit = lambda path: subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path, capture_output=True,  # noqa: E731
                                         text=True).stdout.strip()
    out = {"machine": describe(), "kind": "before_after", "clip": "reference clip (640x480, two moving faces, 300 frames)",
           "before": commit(args.before), "after": commit(PROJECT_ROOT), "results": {}}
    for name, flags in CONFIGURATIONS.items():
        runs = {"before": [], "after": []}
        for _ in range(args.repeats):
            for side, checkout in (("before", args.before), ("after", PROJECT_ROOT)):
                runs[side].append(run_once(checkout, clip, flags))
        row = {side: {"fps_median": round(statistics.median(r["fps"] for r in rs), 1),
                      "fps_runs": [round(r["fps"], 1) for r in rs], "engine": rs[0]["engine"], "detector": rs[0]["detector"]}
               for side, rs in runs.items()}
        out["results"][name] = row
        print(f"{name:<18} before {row['before']['fps_median']:6.1f} FPS ({row['before']['engine']}, {row['before']['detector']})"
              f"   after {row['after']['fps_median']:6.1f} FPS ({row['after']['engine']}, {row['after']['detector']})")
    save(out, "before_after", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
