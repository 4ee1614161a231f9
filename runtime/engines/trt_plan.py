"""Build (or reuse) a TensorRT plan from an Emotion DJ ONNX file: TensorRT 10.x / 11.x Python API.

Networks are strongly typed: precision comes from the ONNX itself (fp32, fp16 weights and compute,
or int8 as explicit Q/DQ nodes), never from builder flags, which TensorRT 11 removed. Plans are
cached per GPU, TensorRT version and model hash, because a plan only runs where it was built.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

INSTALL_HINT = "install TensorRT 10+ for your CUDA (pip install tensorrt-cu12, from NVIDIA's index) or use --engine onnx"


class TensorRTUnavailable(Exception):
    """TensorRT or a CUDA GPU is missing; the message says how to fix it."""


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise TensorRTUnavailable(f"TensorRT is not installed: {INSTALL_HINT}") from None
    return trt


def plan_cache_dir() -> Path:
    base = os.environ.get("EMOTION_DJ_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "emotion-dj")
    return Path(base).expanduser() / "trt"


def gpu_name() -> str:
    from cuda.bindings import runtime as cudart  # cuda-python, which the trt engine needs anyway

    err, props = cudart.cudaGetDeviceProperties(0)
    if int(err) != 0:
        raise TensorRTUnavailable(f"no usable CUDA GPU ({err}); use --engine onnx --device cpu")
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return f"{name.strip()}-sm{props.major}{props.minor}"


def plan_path(onnx_file: Path, max_batch: int) -> Path:
    trt = import_tensorrt()
    digest = hashlib.sha256(onnx_file.read_bytes()).hexdigest()[:16]
    tag = f"{gpu_name()}_trt{trt.__version__}_b{max_batch}_{digest}".replace(" ", "_").replace("/", "_")
    return plan_cache_dir() / f"{onnx_file.stem}_{tag}.plan"


def build_plan(onnx_file: Path, input_name: str, input_size: int, max_batch: int = 64, out: Path | None = None) -> Path:
    """Parse the ONNX into a strongly typed network and serialise a plan with a dynamic-batch profile."""
    trt = import_tensorrt()
    out = out or plan_path(onnx_file, max_batch)
    if out.is_file():
        return out
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_file)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_file}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    profile = builder.create_optimization_profile()
    shape = (1, input_size, input_size)
    profile.set_shape(input_name, (1, *shape), (min(8, max_batch), *shape), (max_batch, *shape))
    config.add_optimization_profile(profile)
    log.info("building TensorRT plan for %s (max batch %d); this takes a while once", onnx_file.name, max_batch)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build a plan for {onnx_file}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(serialized))
    return out
