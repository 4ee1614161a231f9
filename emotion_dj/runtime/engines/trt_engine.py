"""Native TensorRT engine (10.x / 11.x API): a strongly typed plan built from the ONNX of the requested
precision (runtime/engines/trt_plan.py caches it), with device buffers through cuda-python.

I/O is bound by tensor name; buffers are allocated once for the largest batch, so a frame allocates nothing
on the GPU. A larger batch is split into max-batch chunks.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from emotion_dj.core.contract import ModelInfo, onnx_path
from emotion_dj.runtime.engines import Engine, EngineOptions, EngineUnavailable
from emotion_dj.runtime.engines.trt_plan import (
    BuildSettings,
    cuda_call,
    gpu_name,
    import_cudart,
    import_tensorrt,
    load_or_build_engine,
    plan_path,
)
from emotion_dj.runtime.precision import choose_precision

log = logging.getLogger(__name__)


class TensorRTEngine(Engine):
    name = "trt"
    Options = EngineOptions

    def __init__(self, info: ModelInfo, trt, cudart, engine, settings: BuildSettings, plan: Path):
        super().__init__(info)
        self.trt, self.cudart, self.engine, self.plan = trt, cudart, engine, plan
        self.max_batch = settings.max_batch
        self._d_in = self._d_out = None
        size, classes = info.input_size, len(info.classes)
        self._in_shape = (1, size, size)
        self._host_out = np.empty((self.max_batch, classes), np.float32)
        try:
            self.context = engine.create_execution_context()
            if self.context is None:
                raise EngineUnavailable("TensorRT could not create an execution context (GPU memory?)")
            self.stream = cuda_call(cudart.cudaStreamCreate(), "cudaStreamCreate")
            self._d_in = cuda_call(cudart.cudaMalloc(self.max_batch * size * size), "cudaMalloc")
            self._d_out = cuda_call(cudart.cudaMalloc(self._host_out.nbytes), "cudaMalloc")
        except EngineUnavailable:
            self.close()
            raise
        self.context.set_tensor_address(info.input_name, int(self._d_in))
        self.context.set_tensor_address(info.output_name, int(self._d_out))

    @classmethod
    def create(cls, options: EngineOptions) -> TensorRTEngine:
        # Check what is needed, cheapest first, before anything is built.
        if options.device == "cpu":
            raise EngineUnavailable("TensorRT runs on a CUDA GPU only; --device cpu asks for the CPU (use --engine onnx)")
        trt = import_tensorrt()
        cudart = import_cudart()
        gpu = gpu_name(cudart)
        precision, note = options.precision, ""
        if options.model is None and precision == "auto":
            precision, note = choose_precision(options.weights_dir, "cuda"), "auto"
        source = Path(options.model) if options.model else onnx_path(options.weights_dir, precision)
        from emotion_dj.runtime.engines.onnx_engine import open_session, read_model_info

        info = read_model_info(open_session(source, ["CPUExecutionProvider"]), source)
        settings = BuildSettings()
        plan = plan_path(source, gpu, trt.__version__, settings)
        try:
            runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        except Exception as error:  # noqa: BLE001 - e.g. TypeError when the driver is older than TensorRT needs
            raise EngineUnavailable(f"TensorRT cannot start ({type(error).__name__}: {error}); "
                                    "is the NVIDIA driver new enough?") from None
        engine = load_or_build_engine(trt, runtime, source, info.input_name, info.input_size, settings, plan)
        instance = cls(info, trt, cudart, engine, settings, plan)
        instance.precision_note = note
        return instance

    def infer(self, faces: np.ndarray) -> np.ndarray:
        # The device buffer holds max_batch uint8 faces: anything else would overrun it or be misread.
        if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1:] != self._in_shape:
            raise ValueError(f"TensorRT engine takes uint8 N x {' x '.join(map(str, self._in_shape))}, "
                             f"got {faces.dtype} {faces.shape}")
        if len(faces) > self.max_batch:
            return np.concatenate([self.infer(faces[i:i + self.max_batch]) for i in range(0, len(faces), self.max_batch)])
        cudart, n = self.cudart, len(faces)
        faces = np.ascontiguousarray(faces)
        if not self.context.set_input_shape(self.info.input_name, faces.shape):
            raise RuntimeError(f"TensorRT refused input shape {faces.shape}")
        cuda_call(cudart.cudaMemcpyAsync(self._d_in, faces.ctypes.data, faces.nbytes,
                                         cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream), "cudaMemcpyAsync")
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execution failed")
        out = self._host_out[:n]
        cuda_call(cudart.cudaMemcpyAsync(out.ctypes.data, self._d_out, out.nbytes,
                                         cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream), "cudaMemcpyAsync")
        cuda_call(cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        return out.copy()

    def describe(self) -> str:
        return f"trt {self.precision_label()} TensorRT {self.trt.__version__}"

    def close(self) -> None:
        for name in ("_d_in", "_d_out"):
            pointer = getattr(self, name, None)
            if pointer is not None:
                self.cudart.cudaFree(pointer)
                setattr(self, name, None)

    def __del__(self):
        if getattr(self, "cudart", None) is not None:
            self.close()
