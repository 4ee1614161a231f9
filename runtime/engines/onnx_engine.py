"""ONNX Runtime engine. Providers by preference: TensorRT EP -> CUDA EP -> CPU; reports the one really used."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from runtime.engines import Engine, EngineUnavailable
from runtime.errors import UserError
from runtime.model_files import ModelInfo, onnx_path

log = logging.getLogger(__name__)
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def open_session(path: Path, providers: list[str], threads: int = 0):
    """An ORT session for `path`; a missing, unreadable or foreign file is a UserError."""
    import onnxruntime as ort

    if not path.is_file():
        raise UserError(f"model file not found: {path} (run python -m export, or pass --model)")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: a missing CUDA library is reported by us, below
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as error:  # noqa: BLE001 - ORT raises its own exception types for any bad file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot load model {path}: {first[:200]}") from None


def read_model_info(session, path: Path) -> ModelInfo:
    try:
        info = ModelInfo.from_metadata(session.get_modelmeta().custom_metadata_map)
    except ValueError as error:
        raise UserError(f"{path}: {error}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(uint8)" or list(inputs[0].shape[1:]) != [1, info.input_size, info.input_size]:
        raise UserError(f"{path}: input must be uint8 N x 1 x {info.input_size} x {info.input_size}, "
                        f"got {[(i.name, i.type, i.shape) for i in inputs]}")
    return info


class OnnxEngine(Engine):
    name = "onnx"

    def __init__(self, session, info: ModelInfo, path: Path):
        super().__init__(info)
        self.session = session
        self.path = path
        self.provider = session.get_providers()[0]
        self._output_names = [info.output_name]
        self._input_name = info.input_name

    @classmethod
    def load(cls, precision: str, device: str, weights_dir: Path, model: Path | None = None,
             threads: int = 0, **_) -> "OnnxEngine":
        """threads: intra-op threads for the CPU provider (0: ORT's default, one per core); $EMOTION_DJ_ORT_THREADS wins."""
        import onnxruntime as ort

        path = Path(model) if model else onnx_path(weights_dir, precision)
        available = ort.get_available_providers()
        wanted = [p for p in GPU_PROVIDERS if p in available] if device in ("auto", "cuda") else []
        if device == "cuda" and not wanted:
            raise EngineUnavailable("--device cuda: this ONNX Runtime has no CUDA provider "
                                    "(pip install onnxruntime-gpu, with CUDA 12 libraries) - or use --device cpu")
        threads = int(os.environ.get("EMOTION_DJ_ORT_THREADS") or threads)
        session = open_session(path, [*wanted, "CPUExecutionProvider"], threads)
        # ORT falls back to CPU silently when a GPU provider's libraries are missing: believe get_providers().
        really = session.get_providers()
        if device == "cuda" and really[0] not in GPU_PROVIDERS:
            raise EngineUnavailable(f"--device cuda: ONNX Runtime could not start {', '.join(wanted)} "
                                    "(CUDA/cuDNN libraries missing?) and fell back to CPU - use --device cpu")
        if wanted and really[0] not in GPU_PROVIDERS:
            log.warning("ONNX Runtime GPU providers %s did not start; running on %s", wanted, really[0])
        engine = cls(session, read_model_info(session, path), path)
        return engine

    def infer(self, faces: np.ndarray) -> np.ndarray:
        return self.session.run(self._output_names, {self._input_name: faces})[0]

    def describe(self) -> str:
        return f"onnx {self.info.precision} {self.provider}"


ENGINE = OnnxEngine
