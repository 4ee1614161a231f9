"""Which machine a figure was measured on: a short name for file names, and the details for the tables.

Result files are named by the machine's GPU, or by its CPU model and core count, so one machine's results
never overwrite another's (e.g. benchmarks/results/amd-epyc-2core-pipeline.json).
"""
from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from emotion_dj.core.machine import cpu_model, cpu_slug

RESULTS = Path(__file__).resolve().parent / "results"


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
    name = re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-") if gpu else cpu_slug()
    return {"name": name, "cpu": cpu_model(), "cores": os.cpu_count() or 1, "gpu": gpu, "os": platform.platform(),
            "versions": versions(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def save(result: dict, kind: str, path: str | os.PathLike | None = None) -> Path:
    """Write a benchmark's JSON (default: benchmarks/results/<machine>-<kind>.json) and say where."""
    path = Path(path) if path else RESULTS / f"{result['machine']['name']}-{kind}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")
    return path
