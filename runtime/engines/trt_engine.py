"""Native TensorRT engine (10.x / 11.x API): a strongly typed plan built from the ONNX of the requested
precision, cached per GPU + TensorRT version + model hash, with device buffers through cuda-python.

I/O is bound by tensor name; buffers are allocated once for the largest batch, so a frame allocates nothing
on the GPU.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from runtime.engines import Engine, EngineUnavailable
from runtime.engines.trt_plan import TensorRTUnavailable, build_plan, import_tensorrt
from runtime.model_files import ModelInfo, onnx_path

log = logging.getLogger(__name__)
MAX_BATCH = 64


def _cudart():
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError:
            raise EngineUnavailable("cuda-python is not installed (pip install cuda-python) - or use --engine onnx") from None
    return cudart


def _check(result):
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {err}")
    return values[0] if len(values) == 1 else values


class TensorRTEngine(Engine):
    name = "trt"

    def __init__(self, info: ModelInfo, plan: Path, max_batch: int = MAX_BATCH):
        super().__init__(info)
        trt = import_tensorrt()
        self.cudart = _cudart()
        self.plan = plan
        self.max_batch = max_batch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(plan.read_bytes())
        if self.engine is None:
            raise EngineUnavailable(f"TensorRT could not load the plan {plan} (delete it to rebuild)")
        self.context = self.engine.create_execution_context()
        self.stream = _check(self.cudart.cudaStreamCreate())
        size, classes = info.input_size, len(info.classes)
        self._host_out = np.empty((max_batch, classes), np.float32)
        self._in_bytes, self._out_bytes = max_batch * size * size, self._host_out.nbytes
        self._d_in = _check(self.cudart.cudaMalloc(self._in_bytes))
        self._d_out = _check(self.cudart.cudaMalloc(self._out_bytes))
        self.context.set_tensor_address(info.input_name, int(self._d_in))
        self.context.set_tensor_address(info.output_name, int(self._d_out))

    @classmethod
    def load(cls, precision: str, device: str, weights_dir: Path, model: Path | None = None, **_) -> "TensorRTEngine":
        if device == "cpu":
            raise EngineUnavailable("TensorRT runs on a CUDA GPU only; --device cpu asks for the CPU (use --engine onnx)")
        try:
            import_tensorrt()
        except TensorRTUnavailable as error:
            raise EngineUnavailable(str(error)) from None
        source = Path(model) if model else onnx_path(weights_dir, precision)
        from runtime.engines.onnx_engine import open_session, read_model_info

        info = read_model_info(open_session(source, ["CPUExecutionProvider"]), source)
        try:
            plan = build_plan(source, info.input_name, info.input_size, MAX_BATCH)
        except TensorRTUnavailable as error:
            raise EngineUnavailable(str(error)) from None
        return cls(info, plan)

    def infer(self, faces: np.ndarray) -> np.ndarray:
        if len(faces) > self.max_batch:
            return np.concatenate([self.infer(faces[i:i + self.max_batch]) for i in range(0, len(faces), self.max_batch)])
        cudart, n = self.cudart, len(faces)
        faces = np.ascontiguousarray(faces)
        self.context.set_input_shape(self.info.input_name, faces.shape)
        _check(cudart.cudaMemcpyAsync(self._d_in, faces.ctypes.data, faces.nbytes,
                                      cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream))
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execution failed")
        out = self._host_out[:n]
        _check(cudart.cudaMemcpyAsync(out.ctypes.data, self._d_out, out.nbytes,
                                      cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return out.copy()

    def describe(self) -> str:
        import tensorrt as trt

        return f"trt {self.info.precision} TensorRT {trt.__version__}"

    def __del__(self):
        cudart = getattr(self, "cudart", None)
        if cudart is not None:
            for pointer in (getattr(self, "_d_in", None), getattr(self, "_d_out", None)):
                if pointer is not None:
                    cudart.cudaFree(pointer)


ENGINE = TensorRTEngine
