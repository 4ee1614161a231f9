"""PyTorch reference engine: the training checkpoint through the same DeployableEmotionNet as the export."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from runtime.engines import Engine, EngineUnavailable
from runtime.errors import UserError
from runtime.model_files import DEFAULT_STEM, ModelInfo


class TorchEngine(Engine):
    name = "torch"

    def __init__(self, model, info: ModelInfo, device, dtype):
        super().__init__(info)
        self.model, self.device, self.dtype = model, device, dtype

    @classmethod
    def load(cls, precision: str, device: str, weights_dir: Path, model: Path | None = None, **_) -> "TorchEngine":
        try:
            import torch

            from train.checkpoint import CheckpointError, build_deployable, load_checkpoint
        except ImportError:
            raise EngineUnavailable("PyTorch is not installed (pip install -r requirements-train.txt) - or use --engine onnx") from None
        if precision == "int8":
            raise EngineUnavailable("the torch engine runs fp32 or fp16; int8 runs in --engine onnx or trt")
        if device == "cuda" and not torch.cuda.is_available():
            raise EngineUnavailable("--device cuda: PyTorch sees no CUDA GPU - use --device cpu")
        torch_device = torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
        dtype = torch.float16 if precision == "fp16" else torch.float32
        path = Path(model) if model and Path(model).suffix == ".pt" else weights_dir / f"{DEFAULT_STEM}.pt"
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as error:
            raise UserError(str(error)) from None
        net = build_deployable(checkpoint).to(torch_device, dtype)
        config = checkpoint["model_config"]
        info = ModelInfo(classes=tuple(checkpoint["classes"]), input_size=config["img_size"], input_name="faces",
                         output_name="probs", precision=precision, temperature=float(checkpoint.get("temperature") or 1.0),
                         metadata={"model_config": json.dumps(config)})
        return cls(net, info, torch_device, dtype)

    def infer(self, faces: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            probs = self.model(torch.from_numpy(faces).to(self.device, non_blocking=True))
        return probs.float().cpu().numpy()

    def describe(self) -> str:
        return f"torch {self.info.precision} {self.device.type}"


ENGINE = TorchEngine
