"""ONNX Runtime engine: the CUDA provider where onnxruntime-gpu can start it, else the CPU provider.

ORT's TensorRT provider is not used: the native `trt` engine builds and caches plans itself. The provider
that really runs is read back from the session (ORT falls back to CPU silently when CUDA libraries are missing).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_dj.core.contract import ModelInfo, onnx_path
from emotion_dj.core.errors import UserError
from emotion_dj.core.privacy import quiet_onnxruntime
from emotion_dj.runtime.engines import Engine, EngineOptions, EngineUnavailable
from emotion_dj.runtime.precision import choose_precision

log = logging.getLogger(__name__)
CUDA_PROVIDER, CPU_PROVIDER = "CUDAExecutionProvider", "CPUExecutionProvider"
CUDA_HINT = ("pip install -r requirements-gpu.txt (onnxruntime-gpu >= 1.27 needs CUDA 13 and cuDNN 9, NVIDIA driver >= 580; "
             "uninstall the CPU 'onnxruntime' first)")


def open_session(path: Path, providers: list[str], threads: int = 0, spin: bool = True):
    """An ORT session for `path`; a missing, unreadable or foreign file is a UserError."""
    ort = quiet_onnxruntime()

    if not path.is_file():
        raise UserError(f"model file not found: {path} (run python -m emotion_dj.export, or pass --model)")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    if not spin:  # idle intra-op threads sleep instead of spinning: the CPU goes to the other work on the machine
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
    inputs, outputs = session.get_inputs(), session.get_outputs()
    size = info.input_size
    if len(inputs) != 1 or inputs[0].type != "tensor(uint8)" or list(inputs[0].shape[1:]) != [1, size, size] \
            or inputs[0].name != info.input_name:
        raise UserError(f"{path}: input must be uint8 '{info.input_name}' N x 1 x {size} x {size}, "
                        f"got {[(i.name, i.type, i.shape) for i in inputs]}")
    classes = outputs[0].shape[-1] if len(outputs) == 1 else None
    if len(outputs) != 1 or outputs[0].name != info.output_name or (isinstance(classes, int) and classes != len(info.classes)):
        raise UserError(f"{path}: output must be '{info.output_name}' N x {len(info.classes)}, "
                        f"got {[(o.name, o.shape) for o in outputs]}")
    return info


def cuda_provider_available() -> bool:
    ort = quiet_onnxruntime()

    return CUDA_PROVIDER in ort.get_available_providers()


@dataclass
class OnnxOptions(EngineOptions):
    # Intra-op threads for the CPU provider. 1 in the threaded pipeline: detection and inference already run
    # in parallel threads, and on a small CPU two intra-op threads fight the detector (benchmarks/results/).
    # 0 means ORT's default (one per core), which batch evaluation wants.
    threads: int = 1
    # Whether idle intra-op threads spin (ORT's default: lowest latency). A fleet's model replica shares the CPU
    # with the cameras' detectors, so it turns spinning off.
    spin: bool = True


class OnnxEngine(Engine):
    name = "onnx"
    Options = OnnxOptions

    def __init__(self, session, info: ModelInfo, path: Path):
        super().__init__(info)
        self.session = session
        self.path = path
        self.provider = session.get_providers()[0]
        self._output_names = [info.output_name]
        self._input_name = info.input_name
        # A model exported with a fixed batch size takes exactly that many faces a call: batches are split to it and
        # the last part padded (a buffer made once here; the usual dynamic-batch model never touches it).
        batch = session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        if self.fixed_batch:
            size = info.input_size
            self._padded = np.zeros((self.fixed_batch, 1, size, size), np.uint8)
            log.info("%s has a fixed batch size of %d: batches are split to it", path.name, self.fixed_batch)

    @classmethod
    def create(cls, options: OnnxOptions) -> OnnxEngine:
        ort = quiet_onnxruntime()

        want_cuda = options.device in ("auto", "cuda") and cuda_provider_available()
        if options.device == "cuda" and not want_cuda:
            raise EngineUnavailable(f"--device cuda: this ONNX Runtime has no CUDA provider ({CUDA_HINT}) - or use --device cpu")
        if want_cuda and hasattr(ort, "preload_dlls"):
            ort.preload_dlls()  # onnxruntime-gpu[cuda,cudnn]: load the CUDA/cuDNN libraries pip installed
        precision, note = options.precision, ""
        if options.model is None and precision == "auto":
            precision, note = choose_precision(options.weights_dir, "cuda" if want_cuda else "cpu"), "auto"
        path = Path(options.model) if options.model else onnx_path(options.weights_dir, precision)
        session = open_session(path, [CUDA_PROVIDER, CPU_PROVIDER] if want_cuda else [CPU_PROVIDER], options.threads,
                               options.spin)
        # ORT falls back to CPU silently when a GPU provider's libraries are missing: believe get_providers().
        really = session.get_providers()[0]
        if options.device == "cuda" and really != CUDA_PROVIDER:
            raise EngineUnavailable("--device cuda: ONNX Runtime could not start the CUDA provider "
                                    f"(CUDA 13 / cuDNN 9 libraries missing?) and fell back to {really} - use --device cpu")
        if want_cuda and really != CUDA_PROVIDER:
            log.warning("ONNX Runtime's CUDA provider did not start; running on %s", really)
        engine = cls(session, read_model_info(session, path), path)
        engine.precision_note = note
        if engine.provider == CUDA_PROVIDER and engine.info.precision == "int8":
            log.warning("int8 on ONNX Runtime's CUDA provider runs as separate Q/DQ kernels, slower than fp16: "
                        "--precision fp16 (or auto) is faster there")
        return engine

    def infer(self, faces: np.ndarray) -> np.ndarray:
        if self.fixed_batch is None or len(faces) == self.fixed_batch:
            return self.session.run(self._output_names, {self._input_name: faces})[0]
        parts = []
        for start in range(0, len(faces), self.fixed_batch):
            chunk = faces[start:start + self.fixed_batch]
            self._padded[:len(chunk)] = chunk
            self._padded[len(chunk):] = 0
            parts.append(self.session.run(self._output_names, {self._input_name: self._padded})[0][:len(chunk)])
        return np.concatenate(parts)

    def describe(self) -> str:
        return f"onnx {self.precision_label()} {self.provider}"
