"""Which machine a figure was measured on: a short name for file names, and the details for the tables."""
from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("onnxruntime", "onnxruntime-gpu", "opencv-contrib-python", "opencv-python-headless", "numpy",
                    "torch", "tensorrt"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out


def describe() -> dict:
    gpu = gpu_name()
    cores = os.cpu_count() or 1
    slug = re.sub(r"[^a-z0-9]+", "-", (gpu or "cpu").lower()).strip("-")
    name = f"{slug}" if gpu else f"cpu-{cores}core"
    return {"name": name, "cpu": cpu_model(), "cores": cores, "gpu": gpu, "os": platform.platform(),
            "versions": versions(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def save(result: dict, kind: str, path: str | os.PathLike | None = None) -> Path:
    """Write a benchmark's JSON (default: benchmarks/results/<machine>-<kind>.json) and say where."""
    path = Path(path) if path else RESULTS / f"{result['machine']['name']}-{kind}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return path
