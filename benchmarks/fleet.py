"""The fleet against separate processes: 1, 2, 4 and 8 cameras of the reference clip (two faces each), as one
`run_edge.py fleet` (one batched model service) and as as many `run_edge.py` processes side by side.

    python -m benchmarks.fleet [--cameras 1,2,4,8] [--frames 300] [--repeats 3] [--replicas 1] [--threads 2] [--in-flight 32]

Total faces/s counts the faces scored by every camera over the camera phase: from the first camera's first frame
to the last camera's last frame, by the wall clock (Ray's and the processes' start-up are left out of both
sides). Per-camera FPS is each camera's own. A camera's call carries the frames that piled up while its previous
call was out (frames per call); the model's batch size is the mean number of calls and faces per engine call that
a camera's call rode in; the per-face latency is the time from a frame's crops being handed to the engine to its
probabilities coming back, p50 and p95 over the frames.
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
import time
from pathlib import Path

from benchmarks.clip import reference_clip
from benchmarks.machine import describe, save
from emotion_dj.core.paths import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def faces_in(events: Path) -> int:
    return sum(len(json.loads(line).get("faces", ())) for line in events.read_text().splitlines())


def separate(clip: Path, cameras: int, frames: int, env: dict, tmp: Path) -> dict:
    """`cameras` run_edge.py processes at once, each on the clip; the camera phase is the slowest one's run."""
    runs = []
    for k in range(cameras):
        summary, events = tmp / f"single{k}.json", tmp / f"single{k}.jsonl"
        command = [sys.executable, "run_edge.py", "--source", str(clip), "--headless", "--engine", "onnx", "--max-frames",
                   str(frames), "--events", str(events), "--summary-json", str(summary)]
        runs.append((subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True), summary, events))
    rows = []
    for process, summary, events in runs:
        _, stderr = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise RuntimeError(f"run_edge.py failed: {stderr.strip()[-300:]}")
        result = json.loads(summary.read_text())
        ended = summary.stat().st_mtime  # written as the run ends; its first frame came `seconds` before
        rows.append({"fps": result["fps"], "seconds": result["seconds"], "faces": faces_in(events),
                     "started_at": ended - result["seconds"], "ended_at": ended})
    seconds = max(r["ended_at"] for r in rows) - min(r["started_at"] for r in rows)
    return {"faces_per_s": round(sum(r["faces"] for r in rows) / seconds, 1),
            "camera_fps_median": round(statistics.median(r["fps"] for r in rows), 1), "seconds": round(seconds, 2)}


def fleet(clip: Path, cameras: int, frames: int, args, env: dict, tmp: Path) -> dict:
    config = tmp / "fleet.toml"
    config.write_text(f'[model]\nengine = "onnx"\ndevice = "{args.device}"\nreplicas = {args.replicas}\nthreads = {args.threads}\n'
                      f"max_batch = 64\nbatch_wait_ms = {args.batch_wait_ms}\nin_flight = {args.in_flight}\n"
                      f"[serve]\nport = {free_port()}\n" +
                      "".join(f'[[camera]]\nname = "cam{k}"\nsource = "{clip}"\nroom = "room{k % 2}"\n' for k in range(cameras)))
    summary = tmp / "fleet.json"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "run_edge.py", "fleet", str(config), "--max-frames", str(frames),
                           "--summary-json", str(summary)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"fleet failed: {done.stderr.strip()[-500:]}")
    result = json.loads(summary.read_text())
    rows = list(result["cameras"].values())
    seconds = max(r["ended_at"] for r in rows) - min(r["started_at"] for r in rows)
    calls = sum(r["model_calls"] for r in rows)
    return {"faces_per_s": round(result["faces_scored"] / seconds, 1),
            "camera_fps_median": round(statistics.median(r["fps"] for r in rows), 1), "seconds": round(seconds, 2),
            "wall_seconds_with_start": round(time.perf_counter() - started, 1),
            "mean_frames_per_call": round(sum(r["mean_frames_per_call"] * r["model_calls"] for r in rows) / calls, 2),
            "mean_batch_requests": round(sum(r["mean_batch_requests"] * r["model_calls"] for r in rows) / calls, 2),
            "mean_batch_faces": round(sum(r["mean_batch_faces"] * r["model_calls"] for r in rows) / calls, 2),
            "latency_p50_ms": round(statistics.median(r["latency_p50_ms"] for r in rows), 2),
            "latency_p95_ms": round(max(r["latency_p95_ms"] for r in rows), 2),
            "dropped_frames": result["dropped_frames"], "model": result["model"]["engine"]}


def median_row(rows: list[dict]) -> dict:
    """Each figure's median over the rounds (the text fields of the first round)."""
    return {key: round(statistics.median(row[key] for row in rows), 2) if isinstance(rows[0][key], (int, float))
            else rows[0][key] for key in rows[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="1,2,4,8")
    parser.add_argument("--frames", type=int, default=300, help="frames per camera")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per camera count (medians kept)")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads per model replica")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--in-flight", type=int, default=32, help="frames each camera keeps on their way to the model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-fleet.json")
    args = parser.parse_args(argv)
    clip = reference_clip(frames=args.frames)
    out = {"machine": describe(), "kind": "fleet", "frames_per_camera": args.frames, "repeats": args.repeats,
           "clip": f"reference scene (640x480, two moving faces), {args.frames} frames",
           "fleet": {"replicas": args.replicas, "threads": args.threads, "batch_wait_ms": args.batch_wait_ms,
                     "in_flight": args.in_flight,
                     "device": args.device}, "results": {}}
    print(f"{'cameras':>7} | {'fleet faces/s':>13} | {'processes faces/s':>17} | {'fleet/proc':>10} | {'cam FPS fleet':>13} | "
          f"{'cam FPS proc':>12} | {'frames/call':>11} | {'batch calls/faces':>17} | {'p50/p95 ms':>12}", flush=True)
    for cameras in (int(n) for n in args.cameras.split(",")):
        rounds = []
        for _ in range(args.repeats):  # interleaved: a slow spell of the machine hits both sides
            with tempfile.TemporaryDirectory() as tmp:
                env = {**os.environ, "EMOTION_DJ_CACHE": str(Path(tmp) / "cache")}
                env.pop("DISPLAY", None)
                rounds.append((fleet(clip, cameras, args.frames, args, env, Path(tmp)),
                               separate(clip, cameras, args.frames, env, Path(tmp))))
        ours = median_row([r[0] for r in rounds])
        theirs = median_row([r[1] for r in rounds])
        ratio = round(ours["faces_per_s"] / theirs["faces_per_s"], 3)
        out["results"][str(cameras)] = {"fleet": ours, "processes": theirs, "fleet_over_processes": ratio,
                                        "rounds": [{"fleet": a, "processes": b} for a, b in rounds]}
        print(f"{cameras:>7} | {ours['faces_per_s']:>13.1f} | {theirs['faces_per_s']:>17.1f} | {ratio:>10.2f} | "
              f"{ours['camera_fps_median']:>13.1f} | {theirs['camera_fps_median']:>12.1f} | {ours['mean_frames_per_call']:>11} | "
              f"{ours['mean_batch_requests']:>7} / {ours['mean_batch_faces']:<7} | "
              f"{ours['latency_p50_ms']:>5} / {ours['latency_p95_ms']:<5}", flush=True)
    save(out, "fleet", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
