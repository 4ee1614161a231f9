"""Latency of CustomDeepEmotionNet at each input size (48 vs 128), same widths, in ONNX Runtime.

    python -m benchmarks.input_size [--sizes 48,128] [--json OUT]

Speed depends on the architecture, not on the weights, so this exports randomly initialised networks;
accuracy at 128 would need a 128 training run (about 19 min an epoch on 2 CPU cores: a GPU job).
"""
from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from benchmarks.engines import time_calls
from benchmarks.machine import describe, save

log = logging.getLogger("benchmarks.input_size")


def measure_size(size: int, seconds: float) -> dict:
    import numpy as np
    import torch

    from emotion_dj.export.onnx_export import export_onnx
    from emotion_dj.runtime.engines.onnx_engine import OnnxEngine
    from emotion_dj.train.model import CustomDeepEmotionNet, count_parameters

    net = CustomDeepEmotionNet(img_size=size)
    checkpoint = {"model_config": {"img_size": size}, "state_dict": net.state_dict(), "classes": list("abcdefg"),
                  "normalization": {"mean": 0.5, "std": 0.25}, "temperature": 1.0}
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(checkpoint, Path(tmp) / f"net{size}.onnx")
        engine = OnnxEngine.load("fp32", "cpu", Path(tmp), model=path)
        faces = np.zeros((1, 1, size, size), np.uint8)
        time_calls(engine, faces, 0.3, 20)
        durations = time_calls(engine, faces, seconds, 200)
    macs = sum(m.weight.numel() * (size // 2 ** min(i // 2, 4)) ** 2
               for i, m in enumerate(x for x in net.modules() if isinstance(x, torch.nn.Conv2d)))
    return {"input_size": size, "params": count_parameters(net), "conv_macs": int(macs),
            "latency_ms_p50": float(np.percentile(durations, 50) * 1e3), "latency_ms_p95": float(np.percentile(durations, 95) * 1e3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.input_size", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="48,128")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = [measure_size(int(s), args.seconds) for s in args.sizes.split(",")]
    for row in rows:
        log.info("%dx%d: %.2f M conv MACs, p50 %.3f ms at batch 1", row["input_size"], row["input_size"],
                 row["conv_macs"] / 1e6, row["latency_ms_p50"])
    save({"machine": describe(), "kind": "input_size", "results": rows}, "input_size", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
