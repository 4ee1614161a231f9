"""Inference engines behind one interface, registered by name (one module per engine).

    engine = create_engine("onnx", precision="int8", device="cpu")
    probs = engine.infer(faces_uint8)   # N x 1 x S x S uint8 -> N x C float32 probabilities

`auto` tries the engines fastest-first and keeps the first that actually loads, saying which.
"""
from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from runtime.errors import UserError
from runtime.model_files import DEFAULT_WEIGHTS_DIR, PRECISIONS, ModelInfo

log = logging.getLogger(__name__)

# name -> module that defines the engine class; imported only when asked for, so `onnx` never imports torch.
ENGINE_MODULES = {"trt": "runtime.engines.trt_engine", "onnx": "runtime.engines.onnx_engine",
                  "torch": "runtime.engines.torch_engine"}
ENGINE_NAMES = ("auto", *ENGINE_MODULES)
DEVICES = ("auto", "cpu", "cuda")
# auto: fastest first. A CUDA-less machine fails trt at once and lands on ONNX Runtime's CPU provider.
AUTO_ORDER = ("trt", "onnx", "torch")


class EngineUnavailable(UserError):
    """This engine cannot run here (library or GPU missing); the message says how to fix it."""


class Engine(ABC):
    name: str = ""

    def __init__(self, info: ModelInfo):
        self.info = info

    @abstractmethod
    def infer(self, faces: np.ndarray) -> np.ndarray:
        """faces: uint8 N x 1 x S x S (C-contiguous). Returns float32 N x C probabilities."""

    @abstractmethod
    def describe(self) -> str:
        """What really runs: engine, precision and provider/device, e.g. 'onnx fp32 CPUExecutionProvider'."""

    def infer_many(self, faces: np.ndarray, batch: int = 64) -> np.ndarray:
        """infer() over a whole dataset, `batch` faces a call (evaluation and benchmarks, not the frame loop)."""
        return np.concatenate([self.infer(np.ascontiguousarray(faces[i:i + batch])) for i in range(0, len(faces), batch)])

    def warmup(self, max_batch: int = 8) -> None:
        size = self.info.input_size
        for batch in (1, max_batch):
            self.infer(np.zeros((batch, 1, size, size), np.uint8))


def _engine_class(name: str) -> type[Engine]:
    module = importlib.import_module(ENGINE_MODULES[name])
    return module.ENGINE


def create_engine(name: str = "auto", precision: str = "fp32", device: str = "auto",
                  weights_dir: Path = DEFAULT_WEIGHTS_DIR, model: Path | None = None, **options) -> Engine:
    """The engine `name` for the model of `precision` (or the explicit `model` file) on `device`.

    `options` go to the engine's `load` (e.g. threads=1 for ONNX Runtime's CPU provider).
    """
    if name not in ENGINE_NAMES:
        raise UserError(f"unknown engine '{name}': choose from {', '.join(ENGINE_NAMES)}")
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision '{precision}': choose from {', '.join(PRECISIONS)}")
    if device not in DEVICES:
        raise UserError(f"unknown device '{device}': choose from {', '.join(DEVICES)}")
    if name != "auto":
        return _engine_class(name).load(precision=precision, device=device, weights_dir=weights_dir, model=model, **options)
    reasons = []
    for candidate in AUTO_ORDER:
        try:
            engine = _engine_class(candidate).load(precision=precision, device=device, weights_dir=weights_dir, model=model,
                                                   **options)
        except EngineUnavailable as why:
            reasons.append(f"{candidate}: {why}")
            log.debug("auto: %s unavailable: %s", candidate, why)
            continue
        log.info("engine auto -> %s (%s)", candidate, engine.describe())
        return engine
    raise EngineUnavailable("no engine could load the model: " + "; ".join(reasons))
