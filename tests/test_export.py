import importlib.util
import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from emotion_dj.core.contract import INPUT_NAME, OUTPUT_NAME, ModelInfo, onnx_path
from emotion_dj.export.cli import main as export_main
from emotion_dj.export.cli import parse_formats
from emotion_dj.export.onnx_export import ExportError
from emotion_dj.train.checkpoint import build_deployable, load_checkpoint
from emotion_dj.train.evaluate import evaluate
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def exported(tiny_checkpoint, tiny_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    assert export_main(["--weights", str(tiny_checkpoint), "--formats", "onnx,onnx-fp16,onnx-int8",
                        "--out", str(out), "--data", str(tiny_csv), "--calibration-images", "64"]) == 0
    return out


def test_round_trip_matches_torch_and_carries_the_contract(exported, tiny_checkpoint):
    path = onnx_path(exported, "fp32", "best")
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17
    info = ModelInfo.from_metadata({p.key: p.value for p in model.metadata_props})
    checkpoint = load_checkpoint(tiny_checkpoint)
    assert info.classes == tuple(checkpoint["classes"]) and info.input_size == 48
    assert info.temperature == pytest.approx(checkpoint["temperature"])
    faces = np.random.default_rng(0).integers(0, 256, (5, 1, 48, 48), dtype=np.uint8)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: faces})[0]
    with torch.no_grad():
        want = build_deployable(checkpoint)(torch.from_numpy(faces)).numpy()
    assert np.abs(got - want).max() < 1e-5


def test_fp16_and_int8_files_keep_the_io_and_say_their_precision(exported):
    for precision in ("fp16", "int8"):
        model = onnx.load(str(onnx_path(exported, precision, "best")))
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["precision"] == precision
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        assert [(i.name, i.type) for i in session.get_inputs()] == [(INPUT_NAME, "tensor(uint8)")]
        assert [(o.name, o.type) for o in session.get_outputs()] == [(OUTPUT_NAME, "tensor(float)")]
    int8_ops = {node.op_type for node in onnx.load(str(onnx_path(exported, "int8", "best"))).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= int8_ops
    fp16 = onnx.load(str(onnx_path(exported, "fp16", "best")))
    assert {t.data_type for t in fp16.graph.initializer if len(t.dims) == 4} == {onnx.TensorProto.FLOAT16}


def test_model_card_lists_files_and_metrics(exported):
    card = json.loads((exported / "model_card.json").read_text())
    assert card["classes"][0] == "angry" and card["input"]["dtype"] == "uint8"
    assert {"checkpoint", "onnx-fp32", "onnx-fp16", "onnx-int8"} <= set(card["files"])
    assert "accuracy" in card["metrics"]["test"] and card["temperature"] > 0
    # what --precision auto reads: each exported precision's measured val and test accuracy
    assert set(card["precisions"]) == {"fp32", "fp16", "int8"}
    assert all(0 <= card["precisions"][p][split]["accuracy"] <= 1 for p in card["precisions"] for split in ("val", "test"))


def test_evaluate_gives_the_same_report_for_the_onnx_file_as_for_the_checkpoint(exported, tiny_checkpoint, tiny_csv):
    from_checkpoint = evaluate(str(tiny_checkpoint), str(tiny_csv), "test")
    from_onnx = evaluate(str(onnx_path(exported, "fp32", "best")), str(tiny_csv), "test")
    assert from_onnx["engine"] == "onnx fp32 CPUExecutionProvider"
    assert from_onnx["temperature"] == pytest.approx(from_checkpoint["temperature"])
    assert from_onnx["report"]["accuracy"] == from_checkpoint["report"]["accuracy"]
    for key in ("ece_before_temperature", "ece_after_temperature"):
        assert from_onnx[key] == pytest.approx(from_checkpoint[key], abs=1e-4)


def test_evaluate_resizes_faces_for_an_onnx_model_of_another_input_size(tiny_csv, tmp_path):
    from emotion_dj.train.train import main as train_main

    assert train_main(["--data", str(tiny_csv), "--img-size", "64", "--epochs", "1", "--batch-size", "16",
                       "--widths", "8,8,16,16,16", "--amp", "off", "--out", str(tmp_path)]) == 0
    assert export_main(["--weights", str(tmp_path / "best.pt"), "--formats", "onnx", "--out", str(tmp_path)]) == 0
    from_checkpoint = evaluate(str(tmp_path / "best.pt"), str(tiny_csv), "test")
    from_onnx = evaluate(str(onnx_path(tmp_path, "fp32", "best")), str(tiny_csv), "test")
    # cv2 resizes uint8 faces, the checkpoint path float ones: at most one of the 14 faces may flip.
    assert from_onnx["report"]["n"] == from_checkpoint["report"]["n"] == 14
    assert abs(from_onnx["report"]["accuracy"] - from_checkpoint["report"]["accuracy"]) <= 1 / 14 + 1e-9


def test_unknown_format_name():
    with pytest.raises(ExportError, match="unknown format"):
        parse_formats("onnx,tflite")


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("args, message", [
    (("emotion_dj.export", "--weights", "emotion_dj/weights/emotion_net.pt", "--formats", "onnx,tflite"),
     "unknown format(s) tflite"),
    (("emotion_dj.export", "--weights", "pyproject.toml"), "corrupt, truncated or not a PyTorch checkpoint"),
    (("emotion_dj.train.evaluate", "--weights", "missing.pt"), "checkpoint not found"),
    (("emotion_dj.train", "--data", "/nonexistent/fer", "--epochs", "1"), "dataset not found"),
])
def test_user_errors_end_in_one_line_and_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_trt_without_tensorrt_says_so(tiny_checkpoint, exported):
    if importlib.util.find_spec("tensorrt"):
        pytest.skip("TensorRT is installed here; tests/test_tensorrt.py builds the plan")
    assert export_main(["--weights", str(tiny_checkpoint), "--formats", "trt", "--out", str(exported)]) == 2


def test_flip_average_export_averages_each_face_with_its_mirror(tiny_checkpoint, tiny_csv, tmp_path, capsys):
    out = tmp_path / "flip"
    assert export_main(["--weights", str(tiny_checkpoint), "--formats", "onnx,onnx-int8", "--flip-average",
                        "--out", str(out), "--data", str(tiny_csv), "--calibration-images", "64"]) == 0
    faces = np.random.default_rng(1).integers(0, 256, (3, 1, 48, 48), dtype=np.uint8)
    session = ort.InferenceSession(str(onnx_path(out, "fp32", "best")), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: faces})[0]
    single = build_deployable(load_checkpoint(tiny_checkpoint))
    with torch.no_grad():
        want = (single(torch.from_numpy(faces)) + single(torch.from_numpy(faces[..., ::-1].copy()))).numpy() / 2
    assert got.shape == (3, 7) and np.abs(got - want).max() < 1e-5
    for precision in ("fp32", "int8"):
        meta = {p.key: p.value for p in onnx.load(str(onnx_path(out, precision, "best"))).metadata_props}
        assert meta["test_time_flip"] == "1"
    card = json.loads((out / "model_card.json").read_text())
    assert card["test_time_flip"] is True and card["reproduce"][-1].endswith("--flip-average")
    from emotion_dj.runtime.engines import create_engine

    assert "int8 +flip" in create_engine("onnx", "int8", "cpu", model=onnx_path(out, "int8", "best")).describe()
    # Beside its checkpoint it would overwrite the single-pass model: refused in one line.
    capsys.readouterr()
    assert export_main(["--weights", str(tiny_checkpoint), "--formats", "onnx", "--flip-average"]) == 2
    assert "--out folder of its own" in capsys.readouterr().err


def test_a_new_export_keeps_the_crop_fitted_in_its_folder(tiny_checkpoint, tiny_csv, tmp_path, capsys):
    """The crop is fitted on the runtime's detectors (benchmarks/pipeline_accuracy.py --fit --apply) and recorded in
    the weights folder, not in the checkpoint; re-exporting a new checkpoint into that folder must not silently
    throw it away (the live pipeline would then cut faces by the unfitted default)."""
    from emotion_dj.core.contract import CropSpec
    from emotion_dj.export.metadata import set_crop

    args = ["--weights", str(tiny_checkpoint), "--formats", "onnx", "--out", str(tmp_path), "--data", str(tiny_csv)]
    assert export_main(args) == 0
    fitted = CropSpec(margin=0.05, shift_y=-0.02, fitted_on="a test's fit")
    set_crop(tmp_path, fitted)
    capsys.readouterr()
    assert export_main(args) == 0  # a new model into the same folder
    meta = {p.key: p.value for p in onnx.load(str(onnx_path(tmp_path, "fp32", "best"))).metadata_props}
    assert CropSpec.from_json(meta["crop"]) == fitted
    assert CropSpec.from_json(json.dumps(json.loads((tmp_path / "model_card.json").read_text())["crop"])) == fitted
    assert "a test's fit" in capsys.readouterr().out  # says which crop it kept


def test_a_flip_averaged_export_keeps_the_crop_fitted_beside_its_checkpoint(tiny_checkpoint, tmp_path, capsys):
    """`--flip-average` must write into a folder of its own, which has no card yet: the crop fitted beside the
    checkpoint it was made from is the one the live pipeline was measured with, not the unfitted default."""
    import shutil

    from emotion_dj.core.contract import CropSpec
    from emotion_dj.export.metadata import set_crop

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(tiny_checkpoint, weights / "best.pt")
    assert export_main(["--weights", str(weights / "best.pt"), "--formats", "onnx"]) == 0
    fitted = CropSpec(margin=0.05, shift_y=-0.02, fitted_on="a test's fit")
    set_crop(weights, fitted)
    capsys.readouterr()
    flip = tmp_path / "flip"
    assert export_main(["--weights", str(weights / "best.pt"), "--formats", "onnx", "--flip-average",
                        "--out", str(flip)]) == 0
    meta = {p.key: p.value for p in onnx.load(str(onnx_path(flip, "fp32", "best"))).metadata_props}
    assert CropSpec.from_json(meta["crop"]) == fitted
    assert "a test's fit" in capsys.readouterr().out


def test_a_broken_model_card_in_the_out_folder_is_one_line(tiny_checkpoint, tmp_path, capsys):
    (tmp_path / "model_card.json").write_text("{ not json")
    assert export_main(["--weights", str(tiny_checkpoint), "--formats", "onnx", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a model card" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("card", ['{"crop": [1]}', '[1, 2]', '{"crop": {"fitted_on": "x", "margin": "wide"}}'])
def test_a_model_card_of_the_wrong_shape_is_one_line(tiny_checkpoint, tmp_path, capsys, card):
    (tmp_path / "model_card.json").write_text(card)
    assert export_main(["--weights", str(tiny_checkpoint), "--formats", "onnx", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a model card" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
