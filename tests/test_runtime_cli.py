"""run_edge.py end to end, headless, as a user runs it: generated clips in, events/recording/summary out."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT, WEIGHTS
from tests.media import demo_portrait, moving_faces_clip

YUNET = WEIGHTS / "face_detection_yunet_2023mar.onnx"  # shipped with the project


def run_edge(*args: str, timeout: float = 120, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMOTION_DJ_CACHE": "/nonexistent-cache", **(env_extra or {})}
    env.pop("DISPLAY", None)
    env.pop("YUNET_MODEL", None)  # the shipped model, unless a test names another
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "run_edge.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def read_events(path: Path) -> tuple[list[dict], list[dict]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if "frame" in r], [r for r in records if "event" in r]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = run_edge("--source", "demo", "--engine", "onnx", "--detector", "yunet", "--record", str(out / "demo.mp4"),
                      "--events", str(out / "events.jsonl"), "--summary-json", str(out / "summary.json"))
    return result, out


def test_demo_runs_headless_and_the_summary_adds_up(demo_run):
    result, out = demo_run
    assert result.returncode == 0, result.stderr
    assert "300 frames from demo" in result.stdout and "FPS" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_captured"] == summary["frames_processed"] == summary["frames_rendered"] == 300
    assert summary["dropped_capture"] == summary["dropped_render"] == 0
    assert summary["threads_joined"] and summary["stopped_by"] == "source ended"
    for stage in ("decode", "detect", "infer", "track", "render"):
        assert summary["stages"][stage]["count"] > 0 and summary["stages"][stage]["p50_ms"] > 0


def test_demo_events_find_both_faces_with_stable_ids(demo_run):
    _, out = demo_run
    frames, _ = read_events(out / "events.jsonl")
    assert [f["frame"] for f in frames] == list(range(300))
    with_two = [f for f in frames if len(f["faces"]) == 2]
    assert len(with_two) >= 0.95 * len(frames)
    assert len({face["id"] for f in frames for face in f["faces"]}) <= 3  # two faces, at most one re-acquired
    face = frames[0]["faces"][0]
    assert set(face) == {"id", "box", "label", "score", "probs", "raw"} and abs(sum(face["probs"].values()) - 1) < 1e-3
    assert abs(sum(face["raw"].values()) - 1) < 1e-3


def test_demo_recording_is_a_valid_video(demo_run):
    _, out = demo_run
    capture = cv2.VideoCapture(str(out / "demo.mp4"))
    count, first = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        first = frame if first is None else first
        count += 1
    assert count == 300 and first.shape == (480, 640, 3)


def on_canvas(face: np.ndarray) -> np.ndarray:
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[160:320, 240:400] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)[:, :, None]
    return canvas


def test_known_expressions_are_found_and_labelled(tmp_path, fer_dir):
    """FER2013 PrivateTest faces the shipped model gets right, moving in a clip: the runtime must agree."""
    import onnxruntime as ort

    from emotion_dj.runtime.detectors import create_detector
    from emotion_dj.train.data import CLASSES, load_fer2013

    test = load_fer2013(fer_dir, splits=("test",), drop_blank_in=())["test"]
    session = ort.InferenceSession(str(WEIGHTS / "emotion_net.onnx"), providers=["CPUExecutionProvider"])
    detector = create_detector("yunet", yunet_model=YUNET)
    picked = []
    for wanted in ("happy", "surprise"):
        index = np.flatnonzero(test.labels == CLASSES.index(wanted))[:200]
        probs = session.run(["probs"], {"faces": test.images[index][:, None]})[0]
        confident = index[(probs.argmax(1) == CLASSES.index(wanted)) & (probs.max(1) > 0.8)]
        # 48x48 faces blown up to 160 px are blurry; keep one the detector finds in a 640x480 frame
        findable = [i for i in confident[:30] if len(detector.detect(on_canvas(test.images[i]))[0])]
        assert findable, f"no confident, findable {wanted} face"
        picked.append((wanted, test.images[findable[0]]))
    clip = tmp_path / "fer.mp4"
    truth = moving_faces_clip(clip, [face for _, face in picked], frames=45)
    result = run_edge("--source", str(clip), "--engine", "onnx", "--detector", "yunet", "--events", str(tmp_path / "e.jsonl"))
    assert result.returncode == 0, result.stderr
    frames, _ = read_events(tmp_path / "e.jsonl")
    assert len(frames) == 45
    hits = 0
    for record, boxes in zip(frames, truth):
        for face in record["faces"]:
            x, y, w, h = face["box"]
            lane = min(range(len(boxes)), key=lambda k: abs(boxes[k][0] + boxes[k][2] / 2 - (x + w / 2)))
            hits += face["label"] == picked[lane][0]
    assert hits >= 0.8 * 2 * len(frames)


def test_runtime_with_onnx_engine_never_imports_torch(tmp_path):
    code = ("import sys; from emotion_dj.runtime.cli import main; "
            "rc = main(['--source', 'demo', '--engine', 'onnx', '--max-frames', '5', '--headless']); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    env = {**os.environ, "EMOTION_DJ_CACHE": "/nonexistent-cache"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr


def test_a_stream_that_ends_mid_run_gives_a_clean_summary(tmp_path):
    clip = tmp_path / "cut.avi"
    moving_faces_clip(clip, [demo_portrait()], frames=60)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])  # cut off mid-stream, index and all
    result = run_edge("--source", str(clip), "--engine", "onnx", "--headless")
    assert result.returncode == 0, result.stderr
    assert "source ended" in result.stdout and "Traceback" not in result.stderr


def test_detector_auto_falls_back_to_haar_with_a_warning(tmp_path):
    result = run_edge("--source", "demo", "--engine", "onnx", "--max-frames", "10",
                      env_extra={"YUNET_MODEL": str(tmp_path / "missing.onnx")})
    assert result.returncode == 0, result.stderr
    assert "yunet unavailable (YuNet model not found" in result.stderr and "detector haar" in result.stdout


def test_the_shipped_yunet_is_used_by_default_without_network_or_cache(tmp_path):
    # A read-only, empty cache and no network: nothing is downloaded or written.
    result = run_edge("--source", "demo", "--engine", "onnx", "--max-frames", "10",
                      env_extra={"EMOTION_DJ_CACHE": str(tmp_path / "none"), "HOME": str(tmp_path),
                                 "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"})
    assert result.returncode == 0, result.stderr
    assert "detector yunet@320" in result.stdout and result.stderr == ""
    assert not (tmp_path / "none").exists()


def _corrupt(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _wrong_contract_model(tmp_path: Path) -> str:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 64, 64])])
    path = tmp_path / "wrong.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def has_tensorrt() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorrt") is not None


def has_ort_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


USER_ERRORS = [
    (lambda p: ["--source", "7"], "camera 7 could not be opened"),
    (lambda p: ["--source", str(p / "missing.mp4")], "video not found"),
    (lambda p: ["--source", _corrupt(p, "bad.mp4", os.urandom(4096))], "cannot decode video"),
    (lambda p: ["--source", _corrupt(p, "bad.jpg", b"nope")], "cannot decode image"),
    (lambda p: ["--source", "demo", "--model", _corrupt(p, "bad.onnx", b"garbage")], "cannot load model"),
    (lambda p: ["--source", "demo", "--model", str(p / "none.onnx")], "model file not found"),
    (lambda p: ["--source", "demo", "--model", _wrong_contract_model(p)], "not an Emotion DJ model"),
    (lambda p: ["--source", "demo", "--engine", "tflite"], "invalid choice: 'tflite'"),
    (lambda p: ["--source", "demo", "--detector", "mtcnn"], "invalid choice: 'mtcnn'"),
    pytest.param(lambda p: ["--source", "demo", "--engine", "trt"], "TensorRT", marks=pytest.mark.skipif(
        has_tensorrt(), reason="TensorRT is installed here: --engine trt is not an error")),
    pytest.param(lambda p: ["--source", "demo", "--engine", "onnx", "--device", "cuda"], "--device cuda",
                 marks=pytest.mark.skipif(has_ort_cuda(), reason="ONNX Runtime has a CUDA provider here")),
    (lambda p: ["--source", "demo", "--detector", "yunet", "--yunet-model", str(p / "no.onnx")], "YuNet model not found"),
    (lambda p: ["--source", "demo", "--record", str(p / "no/such/dir/out.mp4")], "does not exist"),
]


@pytest.mark.parametrize("make_args, message", USER_ERRORS,
                         ids=[case.values[1] if hasattr(case, "values") else case[1] for case in USER_ERRORS])
def test_user_errors_end_in_one_clear_line(tmp_path, make_args, message):
    result = run_edge(*make_args(tmp_path), "--headless", timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, result.stderr
