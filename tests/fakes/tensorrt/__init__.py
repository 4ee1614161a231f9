"""A stand-in for the TensorRT 10/11 Python API: just the calls runtime/engines/trt_*.py make."""
from __future__ import annotations

import ctypes
import json
import os

import numpy as np

__version__ = os.environ.get("FAKE_TRT_VERSION", "10.13.0")
# ok | builder-typeerror | parse-fails | build-none | runtime-typeerror
MODE = os.environ.get("FAKE_TRT_MODE", "ok")
MAGIC = b"FAKEPLAN"
STATS = {"builds": 0, "deserialized": 0, "executions": 0, "batches": []}


class Logger:
    WARNING = 2

    def __init__(self, level=None):
        self.level = level


class NetworkDefinitionCreationFlag:
    pass


if int(__version__.split(".")[0]) >= 10:
    NetworkDefinitionCreationFlag.STRONGLY_TYPED = 1


class BuilderFlag:
    TF32 = 7


class MemoryPoolType:
    WORKSPACE = 0


class _Network:
    onnx: str | None = None


class _Profile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, low, opt, high):
        self.shapes[name] = (tuple(low), tuple(opt), tuple(high))


class _Config:
    def __init__(self):
        self.flags = {BuilderFlag.TF32}  # TensorRT's default: TF32 on
        self.profiles = []
        self.pool = {}

    def set_memory_pool_limit(self, pool, size):
        self.pool[pool] = size

    def clear_flag(self, flag):
        self.flags.discard(flag)

    def add_optimization_profile(self, profile):
        self.profiles.append(profile)


class Builder:
    def __init__(self, logger):
        if MODE == "builder-typeerror":
            raise TypeError("pybind11::init(): factory function returned nullptr")

    def create_network(self, flags):
        assert flags & (1 << NetworkDefinitionCreationFlag.STRONGLY_TYPED), "networks must be strongly typed"
        return _Network()

    def create_builder_config(self):
        return _Config()

    def create_optimization_profile(self):
        return _Profile()

    def build_serialized_network(self, network, config):
        STATS["builds"] += 1
        if MODE == "build-none":
            return None
        (profile,) = config.profiles
        name, (low, opt, high) = next(iter(profile.shapes.items()))
        plan = {"onnx": network.onnx, "input": name, "max_batch": high[0], "tf32": BuilderFlag.TF32 in config.flags}
        return MAGIC + json.dumps(plan).encode()


class OnnxParser:
    def __init__(self, network, logger):
        self.network = network
        self.num_errors = 0

    def parse_from_file(self, path):
        if MODE == "parse-fails":
            self.num_errors = 1
            return False
        self.network.onnx = str(path)
        return True

    def get_error(self, index):
        return "In node 3 (DequantizeLinear): INVALID_NODE: input must be INT8"


class Runtime:
    def __init__(self, logger):
        if MODE == "runtime-typeerror":
            raise TypeError("pybind11::init(): factory function returned nullptr")

    def deserialize_cuda_engine(self, data: bytes):
        if not data.startswith(MAGIC):
            return None
        try:
            plan = json.loads(data[len(MAGIC):])
        except ValueError:
            return None
        STATS["deserialized"] += 1
        return _Engine(plan)


class _Engine:
    def __init__(self, plan):
        import onnxruntime as ort

        self.plan = plan
        self.session = ort.InferenceSession(plan["onnx"], providers=["CPUExecutionProvider"])

    def create_execution_context(self):
        return _Context(self)


class _Context:
    def __init__(self, engine):
        self.engine = engine
        self.addresses = {}
        self.shape = None

    def set_input_shape(self, name, shape):
        if name != self.engine.plan["input"] or not 1 <= shape[0] <= self.engine.plan["max_batch"]:
            return False
        self.shape = tuple(shape)
        return True

    def set_tensor_address(self, name, address):
        self.addresses[name] = address

    def execute_async_v3(self, stream) -> bool:
        """Reads the input from its device address, runs ORT, writes the output to its address. With the fake
        cuda-python, device memory is host memory; with the real one (a GPU check), it is copied across."""
        session = self.engine.session
        inp, out = session.get_inputs()[0].name, session.get_outputs()[0].name
        faces = np.empty(self.shape, np.uint8)
        _copy(faces.ctypes.data, self.addresses[inp], faces.nbytes, to_device=False, stream=stream)
        probs = np.ascontiguousarray(session.run([out], {inp: faces})[0], np.float32)
        _copy(self.addresses[out], probs.ctypes.data, probs.nbytes, to_device=True, stream=stream)
        STATS["executions"] += 1
        STATS["batches"].append(self.shape[0])
        return True


def _copy(dst: int, src: int, size: int, to_device: bool, stream) -> None:
    from cuda.bindings import runtime as cudart

    if hasattr(cudart, "BUFFERS"):  # the fake cuda-python: "device" pointers are host pointers
        ctypes.memmove(dst, src, size)
        return
    kind = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice if to_device else cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
    cudart.cudaStreamSynchronize(stream)  # the engine's copy of the input was queued on this stream
    err, = cudart.cudaMemcpy(dst, src, size, kind)
    assert int(err) == 0, f"cudaMemcpy failed: {err}"
