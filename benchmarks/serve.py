"""What the live web page costs: the pipeline's FPS on the reference clip without --serve, and with --serve and
0, 1 and 5 clients watching the video stream, runs interleaved on one machine.

    python -m benchmarks.serve [--repeats 3] [--frames 900]

Each run is `run_edge.py --source <reference clip of N frames> --headless --serve PORT` (the reference scene, made
N frames long for steadier timings); the clients are threads that read the MJPEG stream from the moment the server
answers until the app ends. The median FPS of each configuration is kept.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benchmarks.clip import reference_clip
from benchmarks.machine import describe, save
from emotion_dj.core.paths import PROJECT_ROOT

CONFIGURATIONS = {"no --serve": None, "--serve, 0 clients": 0, "--serve, 1 client": 1, "--serve, 5 clients": 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def watch(url: str, stop: threading.Event, received: list[int]) -> None:
    """One page client: read the MJPEG stream (and count its bytes) until the app ends."""
    while not stop.is_set():
        try:
            with requests.get(url, stream=True, timeout=5) as response:
                for chunk in response.iter_content(65536):
                    received.append(len(chunk))
                    if stop.is_set():
                        return
        except requests.RequestException:
            time.sleep(0.05)  # not up yet, or gone


def run_once(clip: Path | str, clients: int | None, frames: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EMOTION_DJ_CACHE": str(Path(tmp) / "cache")}
        env.pop("DISPLAY", None)
        summary = Path(tmp) / "summary.json"
        port = free_port()
        serve = [] if clients is None else ["--serve", str(port)]
        stop, received = threading.Event(), []
        watchers = [threading.Thread(target=watch, args=(f"http://127.0.0.1:{port}/video.mjpg", stop, received),
                                     daemon=True) for _ in range(clients or 0)]
        for watcher in watchers:
            watcher.start()
        done = subprocess.run([sys.executable, "run_edge.py", "--source", str(clip), "--headless", "--max-frames",
                               str(frames), *serve, "--summary-json", str(summary)], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=900)
        stop.set()
        for watcher in watchers:
            watcher.join(timeout=5)
        if done.returncode != 0:
            raise RuntimeError(f"run_edge.py failed: {done.stderr.strip()[-300:]}")
        result = json.loads(summary.read_text())
    return {"fps": result["fps"], "frames": result["frames_processed"], "stream_bytes": sum(received)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-serve.json")
    args = parser.parse_args(argv)
    clip = reference_clip(frames=args.frames)
    runs: dict[str, list[dict]] = {name: [] for name in CONFIGURATIONS}
    for repeat in range(args.repeats):
        for name, clients in CONFIGURATIONS.items():  # interleaved: a slow spell of the machine hits every row
            runs[name].append(run_once(clip, clients, args.frames))
            print(f"round {repeat + 1}: {name}: {runs[name][-1]['fps']:.1f} FPS", flush=True)
    baseline = statistics.median(r["fps"] for r in runs["no --serve"])
    out = {"machine": describe(), "kind": "serve", "frames": args.frames, "serve_fps": 15,
           "clip": f"reference scene (640x480, two moving faces), {args.frames} frames", "results": {}}
    for name, rows in runs.items():
        median = statistics.median(r["fps"] for r in rows)
        out["results"][name] = {"fps_median": median, "fps_runs": [r["fps"] for r in rows],
                                "cost_vs_no_serve": round(1 - median / baseline, 4),
                                "stream_mb_per_run": round(statistics.median(r["stream_bytes"] for r in rows) / 1e6, 2)}
        print(f"{name:<20} {median:7.1f} FPS  ({out['results'][name]['cost_vs_no_serve'] * 100:+.1f}% cost)")
    save(out, "serve", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
