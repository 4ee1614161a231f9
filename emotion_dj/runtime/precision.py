"""`--precision auto`: the fastest exported precision that is as accurate as fp32, for the engine and device.

Accuracy per precision comes from the model card (weights/model_card.json, "precisions": measured by
`python -m emotion_dj.export` through ONNX Runtime on FER2013 val and test). The choice uses val, never test, and a
precision qualifies when it is within TOLERANCE of fp32. Speed order is per device, from measurements:
on a CPU, int8 Q/DQ runs on integer kernels and is the fastest (benchmarks/results/); on CUDA and
TensorRT, fp16 is (int8 on ORT's CUDA provider runs as separate Q/DQ kernels, slower than fp16).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from emotion_dj.core.contract import onnx_path

log = logging.getLogger(__name__)
TOLERANCE = 0.005  # accuracy (fraction) a faster precision may lose against fp32
SPEED_ORDER = {"cpu": ("int8", "fp32", "fp16"), "cuda": ("fp16", "fp32", "int8")}


def card_accuracies(weights_dir: Path) -> dict[str, float]:
    """{precision: val accuracy} from the model card; empty if the card or the numbers are missing."""
    try:
        card = json.loads((weights_dir / "model_card.json").read_text())
        return {p: float(v["val"]["accuracy"]) for p, v in card.get("precisions", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def choose_precision(weights_dir: Path, device_kind: str) -> str:
    """The precision for `device_kind` ('cpu' or 'cuda'); fp32 when the card cannot vouch for another."""
    accuracy = card_accuracies(weights_dir)
    if "fp32" not in accuracy:
        log.info("precision auto -> fp32: the model card in %s has no per-precision accuracy", weights_dir)
        return "fp32"
    for precision in SPEED_ORDER[device_kind]:
        if precision not in accuracy or not onnx_path(weights_dir, precision).is_file():
            continue
        loss = accuracy["fp32"] - accuracy[precision]
        if loss <= TOLERANCE:
            log.info("precision auto -> %s on %s: the fastest within %.1f pt of fp32 (val %.2f%% vs %.2f%%)", precision,
                     device_kind, TOLERANCE * 100, accuracy[precision] * 100, accuracy["fp32"] * 100)
            return precision
    return "fp32"
