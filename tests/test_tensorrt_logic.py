"""The TensorRT engine's logic on a CPU, with stand-ins for tensorrt and cuda-python (tests/fakes/):
plan cache keys and hits, atomic writes, corrupt-plan rebuild, every failure as EngineUnavailable,
batch splitting, the input guard; and the ONNX-level and provider checks that need no GPU at all."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emotion_dj.core.contract import onnx_path
from tests.conftest import ROOT, WEIGHTS

FAKES = Path(__file__).resolve().parent / "fakes"


def load_fake(name: str, relative: str):
    spec = importlib.util.spec_from_file_location(name, FAKES / relative)
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
    return module


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """Fresh fake tensorrt + cuda.bindings.runtime in sys.modules, and a private plan cache."""
    trt = load_fake("tensorrt", "tensorrt/__init__.py")
    cudart = load_fake("cuda.bindings.runtime", "cuda/bindings/runtime.py")
    cuda, bindings = type(sys)("cuda"), type(sys)("cuda.bindings")
    cuda.bindings, bindings.runtime = bindings, cudart
    for name, module in (("tensorrt", trt), ("cuda", cuda), ("cuda.bindings", bindings), ("cuda.bindings.runtime", cudart)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("EMOTION_DJ_CACHE", str(tmp_path / "cache"))
    return trt, cudart


def trt_engine(precision: str = "fp32"):
    from emotion_dj.runtime.engines import create_engine

    return create_engine("trt", precision, "cuda")


def faces(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 1, 48, 48), dtype=np.uint8)


def test_the_engine_moves_buffers_and_splits_large_batches(fakes):
    """What this proves: the engine's host/device buffers, copies and batch splitting return every face's row in
    order. The stand-in TensorRT computes with ONNX Runtime, so agreeing with ONNX Runtime here says nothing about
    TensorRT's own numbers (tests/test_tensorrt.py checks those on a real GPU)."""
    from emotion_dj.runtime.engines import create_engine

    trt, _ = fakes
    engine = trt_engine()
    batch = faces(150)
    expected = create_engine("onnx", "fp32", "cpu").infer(batch)
    got = engine.infer(batch)
    assert np.allclose(got, expected, atol=1e-6)
    assert trt.STATS["batches"] == [64, 64, 22]  # max batch 64: split, each within the device buffers
    assert engine.describe() == "trt fp32 TensorRT 10.13.0"


def test_precision_auto_is_fp16_on_tensorrt(fakes):
    engine = trt_engine("auto")
    assert engine.info.precision == "fp16" and "(auto)" in engine.describe()


def test_plans_are_cached_and_keyed_by_model_gpu_version_and_settings(fakes, tmp_path):
    from emotion_dj.runtime.engines.trt_plan import BuildSettings, plan_path

    trt, _ = fakes
    trt_engine()
    trt_engine()
    assert trt.STATS["builds"] == 1 and trt.STATS["deserialized"] == 2  # the second run reuses the plan
    plans = list((tmp_path / "cache" / "trt").glob("*.plan"))
    assert len(plans) == 1 and not list((tmp_path / "cache" / "trt").glob("*.tmp"))
    fp32, fp16 = onnx_path(WEIGHTS, "fp32"), onnx_path(WEIGHTS, "fp16")
    base = plan_path(fp32, "Fake GPU-sm90", "10.13.0", BuildSettings())
    assert plans[0] == base
    others = {plan_path(fp16, "Fake GPU-sm90", "10.13.0", BuildSettings()),
              plan_path(fp32, "Other GPU-sm87", "10.13.0", BuildSettings()),
              plan_path(fp32, "Fake GPU-sm90", "10.14.0", BuildSettings()),
              plan_path(fp32, "Fake GPU-sm90", "10.13.0", BuildSettings(max_batch=32)),
              plan_path(fp32, "Fake GPU-sm90", "10.13.0", BuildSettings(tf32=True))}
    assert base not in others and len(others) == 5


def test_fp32_plans_are_built_without_tf32(fakes, tmp_path):
    import json

    trt, _ = fakes
    trt_engine()
    (plan,) = (tmp_path / "cache" / "trt").glob("*.plan")
    assert json.loads(plan.read_bytes()[len(trt.MAGIC):])["tf32"] is False


def test_a_corrupt_plan_is_deleted_and_rebuilt_once(fakes, tmp_path):
    trt, _ = fakes
    trt_engine()
    (plan,) = (tmp_path / "cache" / "trt").glob("*.plan")
    plan.write_bytes(plan.read_bytes()[:10])  # truncated, as by a build killed mid-write before atomic writes
    engine = trt_engine()
    assert trt.STATS["builds"] == 2 and engine.infer(faces(2)).shape == (2, len(engine.info.classes))
    assert plan.read_bytes().startswith(trt.MAGIC) and len(plan.read_bytes()) > 10


def test_a_failed_build_leaves_no_plan_behind(fakes, tmp_path):
    from emotion_dj.runtime.engines import EngineUnavailable

    trt, _ = fakes
    trt.MODE = "build-none"
    with pytest.raises(EngineUnavailable, match="failed to build a plan"):
        trt_engine()
    assert not list((tmp_path / "cache").rglob("*.plan")) and not list((tmp_path / "cache").rglob("*.tmp"))


FAILURES = [
    ("parse-fails", {}, "could not parse"),
    ("builder-typeerror", {}, "TypeError"),
    ("runtime-typeerror", {}, "is the NVIDIA driver new enough"),
    ("ok", {"MALLOC_FAILS": True}, "CUDA error in cudaMalloc"),
    ("ok", {"DEVICES": 0}, "no usable CUDA GPU"),
]


@pytest.mark.parametrize("mode, cuda_settings, message", FAILURES, ids=[f[2] for f in FAILURES])
def test_every_failure_is_engine_unavailable_and_auto_falls_back(fakes, mode, cuda_settings, message):
    from emotion_dj.runtime.engines import EngineUnavailable, create_engine

    trt, cudart = fakes
    trt.MODE = mode
    for key, value in cuda_settings.items():
        setattr(cudart, key, value)
    with pytest.raises(EngineUnavailable, match=message):
        trt_engine()
    assert create_engine("auto", "fp32", "auto").describe().startswith("onnx")


def test_tensorrt_8_is_refused_before_anything_is_built(fakes, monkeypatch):
    from emotion_dj.runtime.engines import EngineUnavailable

    old = load_fake("tensorrt", "tensorrt/__init__.py")
    old.__version__ = "8.6.1"
    del old.NetworkDefinitionCreationFlag.STRONGLY_TYPED
    monkeypatch.setitem(sys.modules, "tensorrt", old)
    with pytest.raises(EngineUnavailable, match="TensorRT 8.6.1 is too old"):
        trt_engine()
    assert old.STATS["builds"] == 0


def test_missing_cuda_python_is_engine_unavailable(fakes, monkeypatch):
    from emotion_dj.runtime.engines import EngineUnavailable

    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: import raises ImportError
    with pytest.raises(EngineUnavailable, match="cuda-python is not installed"):
        trt_engine()


def test_the_input_guard(fakes):
    trt, _ = fakes
    engine = trt_engine()
    with pytest.raises(ValueError, match="uint8"):
        engine.infer(faces(2).astype(np.float32))  # 4x the bytes: would overrun the device buffer
    with pytest.raises(ValueError, match="uint8"):
        engine.infer(np.zeros((2, 1, 64, 64), np.uint8))
    engine.context.set_input_shape = lambda name, shape: False
    with pytest.raises(RuntimeError, match="refused input shape"):
        engine.infer(faces(2))


def run_edge_with_fakes(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(FAKES), "EMOTION_DJ_CACHE": str(tmp_path / "cache"), **env}
    full.pop("DISPLAY", None)
    return subprocess.run([sys.executable, "run_edge.py", "--source", "demo", "--headless", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("env", [{"FAKE_TRT_MODE": "builder-typeerror"}, {"FAKE_CUDA_DEVICES": "0"}])
def test_a_tensorrt_that_imports_but_cannot_build(tmp_path, env):
    auto = run_edge_with_fakes(tmp_path, "--max-frames", "20", "--verbose", **env)
    assert auto.returncode == 0, auto.stderr
    assert "engine onnx" in auto.stdout and "engine auto: trt unavailable" in auto.stderr
    explicit = run_edge_with_fakes(tmp_path, "--engine", "trt", **env)
    assert explicit.returncode == 2 and "Traceback" not in explicit.stderr
    assert len(explicit.stderr.strip().splitlines()) == 1


def test_run_edge_runs_the_trt_engine_through_the_fakes(tmp_path):
    result = run_edge_with_fakes(tmp_path, "--engine", "trt", "--max-frames", "30")
    assert result.returncode == 0, result.stderr
    assert "engine trt fp16 (auto) TensorRT 10.13.0" in result.stdout


# -- no GPU needed at all -----------------------------------------------------------------------------------
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_no_dequantize_linear_takes_a_non_8_bit_input(precision):
    from emotion_dj.export.int8 import dequantize_input_types

    types = Counter(dequantize_input_types(onnx_path(WEIGHTS, precision)).values())
    assert set(types) <= {"INT8", "UINT8"}, types  # TensorRT's dequantize takes 8-bit inputs only
    if precision == "int8":
        assert types["INT8"] > 0


def test_an_onnx_runtime_that_falls_back_to_cpu_is_reported_as_such(monkeypatch, caplog):
    import onnxruntime as ort

    from emotion_dj.runtime.engines import EngineUnavailable, create_engine

    real_session = ort.InferenceSession

    class FallsBack(real_session):
        def __init__(self, path, options=None, providers=None, **kwargs):
            super().__init__(path, options, providers=["CPUExecutionProvider"], **kwargs)
            self.asked = providers

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", FallsBack)
    monkeypatch.setattr(ort, "preload_dlls", lambda *a, **k: None, raising=False)
    engine = create_engine("onnx", "fp16", "auto")
    assert engine.session.asked[0] == "CUDAExecutionProvider"  # it asked for the GPU...
    assert engine.describe().endswith("CPUExecutionProvider")  # ...and says what really runs
    assert "CUDA provider did not start" in caplog.text
    with pytest.raises(EngineUnavailable, match="fell back to CPUExecutionProvider"):
        create_engine("onnx", "fp16", "cuda")
