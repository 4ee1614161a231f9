"""What Home Assistant over MQTT costs the camera: the pipeline's FPS on the reference clip without --mqtt, with a
live Mosquitto, with one killed as soon as the app has connected (it dials again with a backoff all run long), with
nothing listening at all, and with a broker that accepts the connection and never answers. Runs interleaved.

    python -m benchmarks.mqtt [--repeats 3] [--frames 900]

Each run is `run_edge.py --source <reference clip> --headless --mqtt URL --summary-json`; Mosquitto is Debian's,
on 127.0.0.1 (tests/broker.py). The median FPS of each configuration is kept, with the number of state messages a
listener got from the live broker.
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
from tests.broker import HomeAssistantClient, Mosquitto, SilentBroker

CONFIGURATIONS = ("no --mqtt", "live broker", "broker killed once connected", "no broker listening", "silent broker")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed: connections are refused


def run_once(clip: Path, configuration: str, frames: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "EMOTION_DJ_CACHE": str(folder / "cache"), "EMOTION_DJ_MQTT_ID": "bench"}
        env.pop("DISPLAY", None)
        summary = folder / "summary.json"
        broker = silent = listener = None
        port = None
        if configuration in ("live broker", "broker killed once connected"):
            broker = Mosquitto(folder / "broker").start()
            listener = HomeAssistantClient(broker)
            port = broker.port
        elif configuration == "silent broker":
            silent = SilentBroker().__enter__()
            port = silent.port
        elif configuration == "no broker listening":
            port = closed_port()
        mqtt = [] if port is None else ["--mqtt", f"mqtt://127.0.0.1:{port}"]
        app = subprocess.Popen([sys.executable, "run_edge.py", "--source", str(clip), "--headless", "--max-frames", str(frames),
                                *mqtt, "--summary-json", str(summary)], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        if configuration == "broker killed once connected":
            deadline = time.monotonic() + 120
            while listener.latest("emotion_dj/bench/availability") != "online" and time.monotonic() < deadline:
                time.sleep(0.02)
            listener.close()
            broker.kill()
        out, err = app.communicate(timeout=900)
        states = 0
        if configuration == "live broker":
            states = sum(listener.count(f"emotion_dj/bench/{name}") for name in ("room", "face", "faces", "fps", "dj", "playlist"))
            listener.close()
        if broker is not None:
            broker.kill()
        if silent is not None:
            silent.__exit__()
        if app.returncode != 0:
            raise RuntimeError(f"run_edge.py failed: {err.strip()[-300:]}")
        result = json.loads(summary.read_text())
    return {"fps": result["fps"], "frames": result["frames_processed"], "state_messages": states}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mqtt", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--json", help="default: benchmarks/results/<machine>-mqtt.json")
    args = parser.parse_args(argv)
    clip = reference_clip(frames=args.frames)
    runs: dict[str, list[dict]] = {name: [] for name in CONFIGURATIONS}
    for repeat in range(args.repeats):
        for name in CONFIGURATIONS:  # interleaved: a slow spell of the machine hits every row
            runs[name].append(run_once(clip, name, args.frames))
            print(f"round {repeat + 1}: {name}: {runs[name][-1]['fps']:.1f} FPS", flush=True)
    baseline = statistics.median(r["fps"] for r in runs["no --mqtt"])
    out = {"machine": describe(), "kind": "mqtt", "frames": args.frames,
           "clip": f"reference scene (640x480, two moving faces), {args.frames} frames", "results": {}}
    for name, rows in runs.items():
        median = statistics.median(r["fps"] for r in rows)
        out["results"][name] = {"fps_median": median, "fps_runs": [r["fps"] for r in rows],
                                "cost_vs_no_mqtt": round(1 - median / baseline, 4),
                                "state_messages_per_run": statistics.median(r["state_messages"] for r in rows)}
        print(f"{name:<30} {median:7.1f} FPS  ({out['results'][name]['cost_vs_no_mqtt'] * 100:+.1f}% cost)")
    save(out, "mqtt", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
