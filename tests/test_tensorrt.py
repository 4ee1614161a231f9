"""TensorRT for real: a strongly typed plan from each shipped ONNX, against ONNX Runtime.

Runs only where TensorRT, cuda-python and a GPU are all present (tests/test_tensorrt_logic.py covers the same
code with stand-ins everywhere else). Plans go to a temporary cache, never the user's.
"""
import numpy as np
import pytest

from emotion_dj.runtime.engines import EngineUnavailable


@pytest.fixture(scope="module")
def gpu_with_tensorrt():
    from emotion_dj.runtime.engines.trt_plan import gpu_name, import_cudart, import_tensorrt

    try:
        import_tensorrt()
        return gpu_name(import_cudart())
    except EngineUnavailable as why:
        pytest.skip(f"needs TensorRT, cuda-python and a GPU: {why}")


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 1e-2), ("int8", 5e-2)])
def test_trt_plan_matches_onnx_runtime(gpu_with_tensorrt, precision, tolerance, tmp_path, monkeypatch):
    from emotion_dj.runtime.engines import create_engine

    monkeypatch.setenv("EMOTION_DJ_CACHE", str(tmp_path))
    faces = np.random.default_rng(0).integers(0, 256, (40, 1, 48, 48), dtype=np.uint8)
    reference = create_engine("onnx", precision, "cpu").infer(faces)
    engine = create_engine("trt", precision, "cuda")
    got = engine.infer(faces)
    assert got.shape == reference.shape and np.abs(got - reference).max() < tolerance
    assert engine.describe().startswith(f"trt {precision}")
