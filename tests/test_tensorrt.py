"""TensorRT: a strongly typed plan from each shipped ONNX, against ONNX Runtime. Skips where TensorRT is absent."""
import numpy as np
import pytest

trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed here (it needs NVIDIA's package index and a GPU)")

from runtime.engines import create_engine  # noqa: E402


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 1e-2), ("int8", 5e-2)])
def test_trt_plan_matches_onnx_runtime(precision, tolerance):
    faces = np.random.default_rng(0).integers(0, 256, (40, 1, 48, 48), dtype=np.uint8)
    reference = create_engine("onnx", precision, "cpu").infer(faces)
    engine = create_engine("trt", precision, "cuda")
    got = engine.infer(faces)
    assert got.shape == reference.shape and np.abs(got - reference).max() < tolerance
    assert engine.describe().startswith(f"trt {precision}")
