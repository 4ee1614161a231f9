"""Inference engines: one module per engine, one registry line each (core.plugins).

    engine = create_engine("onnx", precision="int8", device="cpu")
    probs = engine.infer(faces_uint8)   # N x 1 x S x S uint8 -> N x C float32 probabilities

`auto` tries the engines fastest-first and keeps the first that actually loads, saying which.
Precision `auto` lets the engine pick the fastest exported precision that the model card shows is as
accurate as fp32 (runtime/precision.py).
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_dj.core.contract import DEFAULT_WEIGHTS_DIR, PRECISIONS, ModelInfo
from emotion_dj.core.errors import UserError
from emotion_dj.core.plugins import Plugin, Registry, Unavailable

DEVICES = ("auto", "cpu", "cuda")
PRECISION_CHOICES = ("auto", *PRECISIONS)


class EngineUnavailable(Unavailable):
    """This engine cannot run here (library or GPU missing); the message says how to fix it."""


class InferenceDropped(Exception):
    """An engine that could not score this frame's faces and gave up (a remote model service that failed after its
    retries). The frame processor counts the frame as dropped and goes on; local engines never raise it."""


@dataclass
class EngineOptions:
    """What every engine is created from; an engine with more to configure subclasses this."""

    precision: str = "auto"
    device: str = "auto"
    weights_dir: Path = DEFAULT_WEIGHTS_DIR
    model: Path | None = None  # an explicit model file instead of weights_dir's file of `precision`


class Scored:
    """Probabilities already computed (what a local engine's submit() returns)."""

    __slots__ = ("probs",)

    def __init__(self, probs: np.ndarray):
        self.probs = probs

    def result(self) -> np.ndarray:
        return self.probs


class Engine(Plugin):
    Options = EngineOptions

    def __init__(self, info: ModelInfo):
        self.info = info
        self.precision_note = ""  # e.g. "auto": how the precision was chosen, for describe()

    @abstractmethod
    def infer(self, faces: np.ndarray) -> np.ndarray:
        """faces: uint8 N x 1 x S x S (C-contiguous). Returns float32 N x C probabilities."""

    @abstractmethod
    def describe(self) -> str:
        """What really runs: engine, precision and provider/device, e.g. 'onnx int8 (auto) CPUExecutionProvider'."""

    def precision_label(self) -> str:
        """e.g. "int8 (auto)", or "fp32 +flip" for a model exported with --flip-average."""
        label = self.info.precision + (" +flip" if self.info.metadata.get("test_time_flip") == "1" else "")
        return f"{label} ({self.precision_note})" if self.precision_note else label

    def submit(self, faces: np.ndarray) -> Scored:
        """Start scoring `faces`; `.result()` gives the probabilities. A local engine scores at once; a remote one
        returns while its call is in flight, so a camera can keep several frames in flight (Pipeline in_flight)."""
        return Scored(self.infer(faces))

    def infer_many(self, faces: np.ndarray, batch: int = 64) -> np.ndarray:
        """infer() over a whole dataset, `batch` faces a call (evaluation and benchmarks, not the frame loop)."""
        return np.concatenate([self.infer(np.ascontiguousarray(faces[i:i + batch])) for i in range(0, len(faces), batch)])

    def warmup(self, max_batch: int = 8) -> None:
        """Run once at batch 1 and `max_batch`, and check the output holds one probability per class."""
        size = self.info.input_size
        for batch in (1, max_batch):
            probs = self.infer(np.zeros((batch, 1, size, size), np.uint8))
            if probs.shape != (batch, len(self.info.classes)):
                raise UserError(f"the model returns {probs.shape[1:]} values per face but names "
                                f"{len(self.info.classes)} classes: not a consistent Emotion DJ model")


# auto: fastest first. A CUDA-less machine fails trt at once and lands on ONNX Runtime's CPU provider.
ENGINES = Registry("engine", {
    "trt": "emotion_dj.runtime.engines.trt_engine:TensorRTEngine",
    "onnx": "emotion_dj.runtime.engines.onnx_engine:OnnxEngine",
    "torch": "emotion_dj.runtime.engines.torch_engine:TorchEngine",
}, auto=("trt", "onnx", "torch"), unavailable=EngineUnavailable)
ENGINE_NAMES = ENGINES.names


def create_engine(name: str = "auto", precision: str = "auto", device: str = "auto", **options) -> Engine:
    """The engine `name` for the model of `precision` (or the explicit `model` file) on `device`."""
    if precision not in PRECISION_CHOICES:
        raise UserError(f"unknown precision '{precision}': choose from {', '.join(PRECISION_CHOICES)}")
    if device not in DEVICES:
        raise UserError(f"unknown device '{device}': choose from {', '.join(DEVICES)}")
    return ENGINES.create(name, precision=precision, device=device, **options)
