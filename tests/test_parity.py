"""The shipped model on real PrivateTest faces: torch vs ONNX Runtime fp32, fp16 and int8."""
import numpy as np
import onnxruntime as ort
import pytest
import torch

from emotion_dj.core.contract import INPUT_NAME, OUTPUT_NAME, onnx_path
from emotion_dj.train.checkpoint import build_deployable, load_checkpoint
from emotion_dj.train.data import load_fer2013
from emotion_dj.train.metrics import macro_recall
from tests.conftest import WEIGHTS

MIN_FACES = 512


@pytest.fixture(scope="module")
def private_test(fer_dir, shipped_checkpoint):
    """PrivateTest with the labels the shipped model was trained on (FER+: the reference majority rule's faces)."""
    labels = load_checkpoint(shipped_checkpoint).get("labels", "fer2013")
    split = load_fer2013(fer_dir, splits=("test",), drop_blank_in=(), labels=labels)["test"]
    assert len(split) >= MIN_FACES
    return split.images[:, None], split.labels


def ort_probs(precision: str, faces: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(onnx_path(WEIGHTS, precision)), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: faces[i:i + 256]})[0] for i in range(0, len(faces), 256)])


@pytest.fixture(scope="module")
def torch_probs(private_test, shipped_checkpoint):
    model = build_deployable(load_checkpoint(shipped_checkpoint))
    with torch.no_grad():
        return torch.cat([model(torch.from_numpy(private_test[0][i:i + 256])) for i in range(0, len(private_test[0]), 256)]).numpy()


def test_onnx_fp32_matches_torch(private_test, torch_probs):
    probs = ort_probs("fp32", private_test[0])
    assert np.abs(probs - torch_probs).max() <= 1e-4
    assert (probs.argmax(1) == torch_probs.argmax(1)).all()


def test_onnx_fp16_matches_torch(private_test, torch_probs):
    probs = ort_probs("fp16", private_test[0])
    assert np.abs(probs - torch_probs).max() <= 1e-2
    assert (probs.argmax(1) == torch_probs.argmax(1)).mean() >= 0.995


def test_onnx_int8_agrees_and_keeps_accuracy(private_test, torch_probs):
    faces, labels = private_test
    probs = ort_probs("int8", faces)
    assert (probs.argmax(1) == torch_probs.argmax(1)).mean() >= 0.98
    fp32_accuracy = (torch_probs.argmax(1) == labels).mean()
    assert abs((probs.argmax(1) == labels).mean() - fp32_accuracy) <= 0.01


def test_shipped_model_meets_the_accuracy_bar(private_test, torch_probs, shipped_checkpoint):
    """A floor under the shipped model (FER+ PrivateTest, reference majority rule, single pass: 86.39% accuracy and
    72.78% macro recall measured): a model that stops seeing the rare expressions fails here too."""
    predictions, labels = torch_probs.argmax(1), private_test[1]
    accuracy = (predictions == labels).mean()
    assert accuracy >= 0.86, f"PrivateTest top-1 {accuracy:.4f}"
    assert macro_recall(predictions, labels, torch_probs.shape[1]) >= 0.72
    assert load_checkpoint(shipped_checkpoint)["metrics"]["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-3)


def test_int8_weights_fit_7_bits_so_cpus_without_vnni_cannot_saturate():
    """x86 CPUs without VNNI (AVX2 only) sum pairs of u8 x s8 products in saturating 16 bits: 255 x 127 x 2 overflows,
    255 x 64 x 2 does not. Full-range weights cost 0.73 points of FER+ test accuracy on such a CPU (an AMD EPYC
    here); the export quantizes weights to 7 bits (reduce_range)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path(WEIGHTS, "int8")))
    weights = [numpy_helper.to_array(init) for init in model.graph.initializer
               if init.data_type == onnx.TensorProto.INT8 and len(init.dims) >= 2]
    assert weights, "no int8 weight tensors in the int8 model"
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64
