"""One prepared GPU check: everything the GPU half needs to show, in one call of a few minutes.

    python -m benchmarks.gpu_check --stage          # here: write build/gpu_check_faces.npz from $FER2013_DIR
    python -m benchmarks.gpu_check                  # on the GPU machine (carry build/): writes results/<gpu>-gpu_check.json
    python -m benchmarks.gpu_check --dry            # on a CPU: the same code paths, tiny sizes (a test runs this)

It measures:
  parity       torch fp32 and fp16 on CUDA against ONNX Runtime fp32 on the CPU, on real faces
  throughput   faces/s of the torch engine at batch 1, 8, 64, 256, 1024 (fp32 and fp16)
  end_to_end   run_edge.py's App with --engine torch --device cuda on the reference clip (detection on the CPU)
  trt_buffers  the real TensorRTEngine's device buffers, copies, stream and batch splitting on the GPU, with the
               stand-in TensorRT builder of tests/fakes (TensorRT itself is not on that machine)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.clip import reference_clip
from benchmarks.machine import RESULTS, describe
from emotion_dj.core.paths import PROJECT_ROOT

log = logging.getLogger("benchmarks.gpu_check")
STAGED_FACES = PROJECT_ROOT / "build" / "gpu_check_faces.npz"
FAKES = PROJECT_ROOT / "tests" / "fakes"
BATCHES = (1, 8, 64, 256, 1024)


def stage(data: str | None, count: int = 1024) -> Path:
    """The first `count` PrivateTest faces and labels, small enough to travel with the repository."""
    from emotion_dj.train.data import load_fer2013

    test = load_fer2013(data, splits=("test",), drop_blank_in=())["test"]
    STAGED_FACES.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(STAGED_FACES, faces=test.images[:count], labels=test.labels[:count])
    return STAGED_FACES


def load_faces(path: Path, count: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    if path.is_file():
        staged = np.load(path)
        return staged["faces"][:count, None].copy(), staged["labels"][:count], f"FER2013 PrivateTest ({path.name})"
    log.warning("%s not found: random faces (run --stage where FER2013 is)", path)
    return np.random.default_rng(0).integers(0, 256, (count, 1, 48, 48), dtype=np.uint8), None, "random"


def parity(device: str, faces: np.ndarray, labels: np.ndarray | None) -> dict:
    from emotion_dj.runtime.engines import create_engine

    reference = create_engine("onnx", "fp32", "cpu", threads=0).infer_many(faces)
    out = {}
    for precision in ("fp32", "fp16"):
        probs = create_engine("torch", precision, device).infer_many(faces)
        out[precision] = {"max_abs_diff": float(np.abs(probs - reference).max()),
                          "top1_agreement": float((probs.argmax(1) == reference.argmax(1)).mean())}
        if labels is not None:
            out[precision]["accuracy"] = float((probs.argmax(1) == labels).mean())
    if labels is not None:
        out["onnx_cpu_fp32_accuracy"] = float((reference.argmax(1) == labels).mean())
    return out


def throughput(device: str, faces: np.ndarray, batches: tuple[int, ...], seconds: float) -> dict:
    from emotion_dj.runtime.engines import create_engine

    out = {}
    for precision in ("fp32", "fp16"):
        engine = create_engine("torch", precision, device)
        engine.warmup()
        rates = {}
        for batch in batches:
            chunk = np.ascontiguousarray(np.resize(faces, (batch, *faces.shape[1:])))
            engine.infer(chunk)
            calls, started = 0, time.perf_counter()
            while calls < 3 or time.perf_counter() - started < seconds:
                engine.infer(chunk)
                calls += 1
            rates[str(batch)] = round(batch * calls / (time.perf_counter() - started), 1)
        out[precision] = {"runs_on": engine.describe(), "faces_per_s": rates}
    return out


def end_to_end(device: str, frames: int) -> dict:
    from emotion_dj.runtime.app import App, RunConfig, build_parts

    clip = reference_clip(frames=frames)
    config = RunConfig(source=str(clip), engine="torch", precision="auto", device=device, detector="yunet",
                       headless=True, draw=True, pace=False, open_links=False)
    summary = App(config, build_parts(config)).run()
    return {"frames": summary.frames_processed, "fps": summary.fps, "engine": summary.engine,
            "detector": summary.detector, "stages": {k: vars(v) for k, v in summary.stages.items()}}


def trt_buffers(dry: bool, faces: np.ndarray) -> dict:
    """The real TensorRTEngine with the stand-in builder; on the GPU with the real cuda-python."""
    sys.path.insert(0, str(FAKES))  # the stand-in `tensorrt` (and, dry, the stand-in `cuda`)
    if not dry:
        for name in [m for m in sys.modules if m == "cuda" or m.startswith("cuda.")]:
            del sys.modules[name]
        sys.path.remove(str(FAKES))
        sys.path.append(str(FAKES))  # real cuda-python first; tensorrt only exists in the fakes
    import tensorrt

    from emotion_dj.runtime.engines import create_engine

    os.environ["EMOTION_DJ_CACHE"] = tempfile.mkdtemp(prefix="gpu-check-")  # stand-in plans never reach the user's cache

    engine = create_engine("trt", "fp32", "cuda")
    reference = create_engine("onnx", "fp32", "cpu", threads=0).infer(faces)
    started = time.perf_counter()
    probs = engine.infer(faces)
    seconds = time.perf_counter() - started
    import cuda.bindings.runtime as cudart

    return {"cuda": "stand-in" if hasattr(cudart, "BUFFERS") else "real cuda-python", "faces": len(faces),
            "batches": list(tensorrt.STATS["batches"]), "max_abs_diff": float(np.abs(probs - reference).max()),
            "seconds": round(seconds, 3), "runs_on": engine.describe()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="store_true", help="write the real faces the check uses, then stop")
    parser.add_argument("--data", help="FER2013 for --stage (default: $FER2013_DIR)")
    parser.add_argument("--dry", action="store_true", help="CPU, tiny sizes, stand-in cuda-python: tests the code paths")
    parser.add_argument("--faces", type=Path, default=STAGED_FACES)
    parser.add_argument("--json", type=Path, help="default: benchmarks/results/<gpu>-gpu_check.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.stage:
        print(f"wrote {stage(args.data)}")
        return 0
    device = "cpu" if args.dry else "cuda"
    if not args.dry:
        import torch

        if not torch.cuda.is_available():
            print("error: no CUDA GPU visible to PyTorch (use --dry on a CPU)", file=sys.stderr)
            return 2
    faces, labels, source = load_faces(args.faces, 160 if args.dry else 1024)
    report = {"machine": describe(), "kind": "gpu_check", "dry": args.dry, "faces": source}
    steps = [("parity", lambda: parity(device, faces, labels)),
             ("throughput", lambda: throughput(device, faces, (1, 8) if args.dry else BATCHES, 0.05 if args.dry else 2.0)),
             ("end_to_end", lambda: end_to_end(device, 30 if args.dry else 300)),
             ("trt_buffers", lambda: trt_buffers(args.dry, faces[:150]))]
    for name, step in steps:
        started = time.perf_counter()
        try:
            report[name] = step()
        except Exception as error:  # noqa: BLE001 - one failed part must not cost the others' numbers
            log.exception("%s failed", name)
            report[name] = {"error": f"{type(error).__name__}: {error}"}
        log.info("%s (%.1f s): %s", name, time.perf_counter() - started, json.dumps(report[name])[:300])
    path = args.json or RESULTS / f"{report['machine']['name']}-gpu_check.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return 0 if not any("error" in report[name] for name, _ in steps) else 1


if __name__ == "__main__":
    raise SystemExit(main())
