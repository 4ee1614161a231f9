"""PyTorch reference engine: the training checkpoint through the same DeployableEmotionNet as the export.

On CUDA it keeps a pinned host buffer and a device buffer for the largest batch (no per-frame allocation on
either side of the copy) and runs channels_last, the memory layout cuDNN's fastest convolutions use.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from emotion_dj.core.contract import CropSpec, ModelInfo, checkpoint_path
from emotion_dj.core.errors import UserError
from emotion_dj.runtime.engines import Engine, EngineOptions, EngineUnavailable

MAX_BATCH = 64
log = logging.getLogger(__name__)


def card_crop(folder: Path) -> CropSpec:
    """The crop fitted for this checkpoint's model, from the model card beside it; without a usable card, the default
    box crop, and a warning that says so (a crop fitted for another model would cost accuracy silently)."""
    card = folder / "model_card.json"
    try:
        return CropSpec.from_json(json.dumps(json.loads(card.read_text())["crop"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = "no model_card.json" if isinstance(error, FileNotFoundError) else f"unusable {card.name} ({error})"
        default = CropSpec()
        log.warning("%s beside the checkpoint in %s: using the default crop (box rule, margin %.2f), not one fitted "
                    "for this model", reason, folder, default.margin)
        return default


class TorchEngine(Engine):
    name = "torch"
    Options = EngineOptions

    def __init__(self, model, info: ModelInfo, device, dtype, max_batch: int = MAX_BATCH):
        import torch

        super().__init__(info)
        self.model, self.device, self.dtype = model, device, dtype
        self.max_batch = max_batch
        size = info.input_size
        self._cuda = device.type == "cuda"
        if self._cuda:
            self._host_in = torch.empty((max_batch, 1, size, size), dtype=torch.uint8).pin_memory()
            self._device_in = torch.empty((max_batch, 1, size, size), dtype=torch.uint8, device=device)
            self._host_out = torch.empty((max_batch, len(info.classes)), dtype=torch.float32).pin_memory()

    @classmethod
    def create(cls, options: EngineOptions) -> TorchEngine:
        try:
            import torch

            from emotion_dj.train.checkpoint import (
                CheckpointError,
                build_deployable,
                load_checkpoint,
            )
        except ImportError:
            raise EngineUnavailable("PyTorch is not installed (pip install -r requirements-train.txt) - or use --engine onnx") from None
        if options.precision == "int8":
            raise EngineUnavailable("the torch engine runs fp32 or fp16; int8 runs in --engine onnx or trt")
        if options.model is not None and Path(options.model).suffix != ".pt":
            raise EngineUnavailable(f"--engine torch runs a training checkpoint (.pt), not {Path(options.model).name} "
                                    "- use --engine onnx for an exported file")
        if options.device == "cuda" and not torch.cuda.is_available():
            raise EngineUnavailable("--device cuda: PyTorch sees no CUDA GPU - use --device cpu")
        torch_device = torch.device("cuda" if options.device != "cpu" and torch.cuda.is_available() else "cpu")
        precision, note = options.precision, ""
        if precision == "auto":  # fp16 pays on a GPU; on a CPU, PyTorch's fp16 convolutions are slow
            precision, note = ("fp16" if torch_device.type == "cuda" else "fp32"), "auto"
        path = Path(options.model) if options.model else checkpoint_path(options.weights_dir)
        try:
            checkpoint = load_checkpoint(path)
            net = build_deployable(checkpoint)
        except CheckpointError as error:
            raise UserError(str(error)) from None
        dtype = torch.float16 if precision == "fp16" else torch.float32
        net = net.to(torch_device, dtype)
        if torch_device.type == "cuda":
            net = net.to(memory_format=torch.channels_last)
        config = checkpoint["model_config"]
        info = ModelInfo(classes=tuple(checkpoint["classes"]), input_size=config["img_size"], precision=precision,
                         temperature=float(checkpoint.get("temperature") or 1.0), crop=card_crop(path.parent),
                         metadata={"model_config": json.dumps(config)})
        engine = cls(net, info, torch_device, dtype)
        engine.precision_note = note
        return engine

    def infer(self, faces: np.ndarray) -> np.ndarray:
        import torch

        if len(faces) > self.max_batch:
            return np.concatenate([self.infer(faces[i:i + self.max_batch]) for i in range(0, len(faces), self.max_batch)])
        n = len(faces)
        with torch.inference_mode():
            if not self._cuda:
                return self.model(torch.from_numpy(faces)).float().numpy()
            self._host_in[:n].copy_(torch.from_numpy(faces))
            self._device_in[:n].copy_(self._host_in[:n], non_blocking=True)
            probs = self.model(self._device_in[:n])
            self._host_out[:n].copy_(probs, non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()
            return self._host_out[:n].numpy().copy()

    def describe(self) -> str:
        return f"torch {self.precision_label()} {self.device.type}"
