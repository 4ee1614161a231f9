"""TensorRT 10.x / 11.x: what the `trt` engine needs before it can run, and its plan cache.

Networks are strongly typed: precision comes from the ONNX itself (fp32; fp16 weights and compute; int8 as
explicit Q/DQ nodes with 8-bit inputs and float biases), never from builder precision flags, which
TensorRT 11 removed. TF32 is switched off so an fp32 plan computes in fp32, as the parity tests assume.
A plan only runs on the GPU and TensorRT version it was built with, so the cache key holds both, the
model's hash and the build settings. Plans are written to a temporary file and renamed into place, so a
build killed half way never leaves a truncated plan behind.

Every failure here is an EngineUnavailable with one line: `auto` falls back to ONNX Runtime, an explicit
`--engine trt` exits 2 with that line.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from emotion_dj.core.paths import cache_dir
from emotion_dj.runtime.engines import EngineUnavailable

log = logging.getLogger(__name__)

MIN_TENSORRT_MAJOR = 10
TENSORRT_HINT = ("install TensorRT 10+ (pip install tensorrt-cu13 --extra-index-url https://pypi.nvidia.com; "
                 "Jetson: JetPack 6's TensorRT) - or use --engine onnx")
CUDA_PYTHON_HINT = "pip install 'cuda-python>=13' (CUDA 12 drivers and JetPack 6: 'cuda-python<13') - or use --engine onnx"


def import_tensorrt():
    """The tensorrt module, if it is 10.x or newer (strongly typed networks, named I/O tensors)."""
    try:
        import tensorrt as trt
    except ImportError:
        raise EngineUnavailable(f"TensorRT is not installed: {TENSORRT_HINT}") from None
    except Exception as error:  # noqa: BLE001 - the bindings import but their libraries do not load
        raise EngineUnavailable(f"TensorRT cannot load ({type(error).__name__}: {error}): {TENSORRT_HINT}") from None
    version = getattr(trt, "__version__", "0")
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_TENSORRT_MAJOR or not hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        raise EngineUnavailable(f"TensorRT {version} is too old: the trt engine needs {MIN_TENSORRT_MAJOR}.x or newer "
                                "(strongly typed networks) - or use --engine onnx")
    return trt


def import_cudart():
    """cuda-python's runtime bindings (cuda.bindings.runtime, or cuda.cudart before cuda-python 12.6)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise EngineUnavailable(f"cuda-python is not installed: {CUDA_PYTHON_HINT}") from None
    return cudart


def cuda_call(result, what: str):
    """cuda-python returns (error, *values); a non-zero error is an EngineUnavailable naming the call."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise EngineUnavailable(f"CUDA error in {what}: {getattr(err, 'name', err)}")
    return values[0] if len(values) == 1 else values


def gpu_name(cudart) -> str:
    """'NVIDIA H100 80GB HBM3-sm90': the GPU a plan is built for (device 0)."""
    try:
        count = cuda_call(cudart.cudaGetDeviceCount(), "cudaGetDeviceCount")
    except EngineUnavailable as error:
        raise EngineUnavailable(f"no usable CUDA GPU ({error}) - use --engine onnx --device cpu") from None
    if not count:
        raise EngineUnavailable("no CUDA GPU found - use --engine onnx --device cpu")
    props = cuda_call(cudart.cudaGetDeviceProperties(0), "cudaGetDeviceProperties")
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    return f"{name.strip(chr(0)).strip()}-sm{props.major}{props.minor}"


@dataclass(frozen=True)
class BuildSettings:
    """Everything besides the ONNX, the GPU and TensorRT that changes a plan (so all of it is in the cache key)."""

    max_batch: int = 64
    opt_batch: int = 8
    workspace_mib: int = 1024
    tf32: bool = False

    def tag(self) -> str:
        return f"b{self.max_batch}o{self.opt_batch}w{self.workspace_mib}{'tf32' if self.tf32 else 'fp32'}"


def plan_path(onnx_file: Path, gpu: str, trt_version: str, settings: BuildSettings, folder: Path | None = None) -> Path:
    digest = hashlib.sha256(onnx_file.read_bytes()).hexdigest()[:16]
    tag = f"{gpu}_trt{trt_version}_{settings.tag()}_{digest}"
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in tag)
    return (folder or cache_dir("trt")) / f"{onnx_file.stem}_{safe}.plan"


def build_plan(trt, onnx_file: Path, input_name: str, input_size: int, settings: BuildSettings, out: Path) -> Path:
    """Parse the ONNX into a strongly typed network, build a dynamic-batch plan, write it atomically to `out`."""
    try:
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(onnx_file)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineUnavailable(f"TensorRT could not parse {onnx_file.name}: {errors[:300]}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mib << 20)
        if not settings.tf32 and hasattr(trt.BuilderFlag, "TF32"):
            config.clear_flag(trt.BuilderFlag.TF32)
        profile = builder.create_optimization_profile()
        shape = (1, input_size, input_size)
        profile.set_shape(input_name, (1, *shape), (min(settings.opt_batch, settings.max_batch), *shape),
                          (settings.max_batch, *shape))
        config.add_optimization_profile(profile)
        log.info("building TensorRT plan for %s (%s); this takes a while once", onnx_file.name, settings.tag())
        serialized = builder.build_serialized_network(network, config)
    except EngineUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - TypeError for an old driver, RuntimeError for a failed build...
        raise EngineUnavailable(f"TensorRT could not build a plan for {onnx_file.name}: "
                                f"{type(error).__name__}: {str(error).strip()[:200]}") from None
    if serialized is None:
        raise EngineUnavailable(f"TensorRT failed to build a plan for {onnx_file.name} (run with --verbose for its log)")
    write_atomically(out, bytes(serialized))
    return out


def write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as error:
        raise EngineUnavailable(f"cannot write the TensorRT plan to {path.parent}: {error.strerror} "
                                "(set EMOTION_DJ_CACHE to a writable folder)") from None


def load_or_build_engine(trt, runtime, onnx_file: Path, input_name: str, input_size: int, settings: BuildSettings,
                         plan: Path):
    """The deserialised engine from the cached plan, building it if absent; a plan that does not load is
    deleted and rebuilt once (a truncated file, or one from another TensorRT)."""
    for attempt in range(2):
        if not plan.is_file():
            build_plan(trt, onnx_file, input_name, input_size, settings, plan)
        engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        if engine is not None:
            return engine
        log.warning("TensorRT could not load the cached plan %s; %s", plan.name,
                    "rebuilding it" if attempt == 0 else "giving up")
        plan.unlink(missing_ok=True)
    raise EngineUnavailable(f"TensorRT could not load a plan it just built for {onnx_file.name}")
