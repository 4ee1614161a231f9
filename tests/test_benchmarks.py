"""The benchmark code itself, on tiny inputs (the figures come from real runs in benchmarks/results/)."""
import json

import numpy as np
import pytest

from benchmarks import engines, pipeline, report
from benchmarks.clip import reference_clip


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return reference_clip(tmp_path_factory.mktemp("clip") / "ref.mp4", frames=20)


@pytest.fixture(scope="module")
def engines_json(tmp_path_factory):
    result = engines.run(None, 0.05, variants=[("onnx", "fp32", "cpu"), ("onnx", "int8", "cpu"), ("trt", "fp16", "cuda")])
    path = tmp_path_factory.mktemp("bench") / "engines.json"
    path.write_text(json.dumps(result))
    return path


@pytest.fixture(scope="module")
def pipeline_json(tiny_clip, tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "pipeline.json"
    assert pipeline.main(["--source", str(tiny_clip), "--repeats", "1", "--json", str(path)]) == 0
    return path


def test_engines_json_has_the_fields(engines_json):
    result = json.loads(engines_json.read_text())
    assert result["machine"]["cores"] >= 1 and result["batches"] == [1, 8, 32, 64]
    fp32, int8, trt = result["results"]
    for row in (fp32, int8):
        assert row["status"] == "measured" and row["runs_on"].startswith("onnx")
        assert 0 < row["latency_ms_p50"] <= row["latency_ms_p95"]
        assert set(row["throughput_faces_per_s"]) == {"1", "8", "32", "64"}
    assert trt["status"].startswith("not measured")


def test_baselines_and_pipeline_process_the_same_frames(pipeline_json):
    result = json.loads(pipeline_json.read_text())["results"]
    assert result["threaded"]["frames"] == result["sequential"]["frames"] == result["prototype"]["frames"] == 20
    assert result["prototype"]["engine"].startswith("torch") and result["prototype"]["detector"] == "haar"
    assert result["threaded"]["detector"].startswith("yunet")
    for name in ("threaded", "sequential", "prototype"):
        assert result[name]["fps_median"] > 0 and result[name]["stages"]["infer"]["count"] > 0
    assert result["speedup_vs_prototype"] > 0 and result["threaded"]["bottleneck"]["stage"] in result["threaded"]["stages"]


def test_report_writes_tables_and_chart(engines_json, pipeline_json, tmp_path):
    assert report.main(["--engines", str(engines_json), "--pipeline", str(pipeline_json), str(pipeline_json), "--out", str(tmp_path)]) == 0
    (md,) = tmp_path.glob("*.md")
    text = md.read_text()
    assert "| onnx | fp32 |" in text and "not measured here [1]" in text and text.count("Threaded pipeline:") == 2
    assert md.with_suffix(".png").stat().st_size > 10_000 and json.loads(md.with_suffix(".json").read_text())["engines"]


def test_the_gpu_check_runs_its_code_paths_dry_on_a_cpu(tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "gpu_check.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--dry", "--json", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["dry"] and report["parity"]["fp32"]["max_abs_diff"] < 1e-4
    assert report["parity"]["fp32"]["top1_agreement"] == 1.0 and report["parity"]["fp16"]["top1_agreement"] > 0.95
    assert set(report["throughput"]["fp16"]["faces_per_s"]) == {"1", "8"}
    assert report["end_to_end"]["frames"] == 30 and report["end_to_end"]["engine"].startswith("torch")
    assert report["trt_buffers"]["batches"] == [64, 64, 22] and report["trt_buffers"]["max_abs_diff"] < 1e-5


def test_the_live_pipeline_scores_what_the_model_scores_on_a_small_subset(fer_dir):
    """FER2013 val faces placed in frames, through the runtime's YuNet, cropper and engine: the accuracy on the
    faces found must stay within GAP_BOUND points of the same faces' direct crops (the full run is in the README)."""
    from benchmarks.pipeline_accuracy import run

    result = run(str(fer_dir), "val", limit=400, seed=1, detectors=("yunet",), precision="int8")["results"]["yunet"]
    assert result["detection_rate"] > 0.4, result
    assert result["gap_points"] <= 3.0, result  # 400 faces, ~220 found: one face is ~0.45 points
    assert 0 < result["macro_recall"] <= 1 and 0 < result["direct_macro_recall"] <= 1  # the second measure
    low, high = result["macro_recall_gap_ci95"]
    assert low <= result["macro_recall_gap_points"] <= high
    big = result["by_face_size"]["300"]
    assert big["detection_rate"] > 0.6


def test_every_size_places_each_face_once_at_each_size(fer_dir):
    from benchmarks.pipeline_accuracy import FACE_SIZES, run

    result = run(str(fer_dir), "val", limit=6, seed=2, detectors=("haar",), precision="int8", every_size=True)
    assert result["faces"] == 6 and result["placements_per_face"] == len(FACE_SIZES)
    by_size = result["results"]["haar"]["by_face_size"]
    assert [by_size[str(size)]["faces"] for size in FACE_SIZES] == [6] * len(FACE_SIZES)


def test_the_gap_interval_resamples_whole_faces():
    from benchmarks.pipeline_accuracy import gap_interval

    rng = np.random.default_rng(0)
    right = rng.random(2000) < 0.7
    assert gap_interval(right, right, np.arange(2000) // 5) == [0.0, 0.0]  # the same answers: no gap at all
    worse = right & (rng.random(2000) < 0.95)  # the pipeline loses ~3.5 points
    low, high = gap_interval(right, worse, np.arange(2000) // 5)
    gap = (right.mean() - worse.mean()) * 100
    assert low < gap < high and high - low < 3
    # Five frames of one face that always move together: a wider interval than five independent faces.
    tied = np.repeat(rng.random(400) < 0.7, 5)
    tied_worse = np.repeat(rng.random(400) < 0.65, 5)
    as_faces = gap_interval(tied, tied_worse, np.arange(2000) // 5)
    as_frames = gap_interval(tied, tied_worse, np.arange(2000))
    assert as_faces[1] - as_faces[0] > 1.5 * (as_frames[1] - as_frames[0])


def test_the_macro_recall_gap_interval_sees_a_rare_class_lost_on_few_faces():
    from benchmarks.pipeline_accuracy import macro_recall_gap_interval

    rng = np.random.default_rng(0)
    labels = np.repeat(np.r_[rng.integers(0, 3, 1990), np.full(10, 3)], 5)  # class 3: 10 faces, 5 placements each
    face_of = np.arange(len(labels)) // 5
    right = labels.copy()
    assert macro_recall_gap_interval(labels, right, right, face_of, 4) == [0.0, 0.0]
    lost = np.where(labels == 3, 0, labels)  # the pipeline misses the rare class on every face: 25 points of 4 classes
    low, high = macro_recall_gap_interval(labels, right, lost, face_of, 4)
    assert low == high == 25.0
    half = lost.copy()
    half[np.isin(face_of, np.flatnonzero(labels[::5] == 3)[:5])] = 3  # 5 of the 10 rare faces kept
    low, high = macro_recall_gap_interval(labels, right, half, face_of, 4)
    assert low < 12.5 < high and high - low > 5  # ten faces cannot pin a 12.5-point gap down


def test_the_serve_benchmark_counts_a_watching_clients_stream():
    pytest.importorskip("aiohttp")
    from benchmarks import serve

    # the demo scene for 300 frames: the client is connected before the first frame (the server binds before the
    # model loads), and the first frame is always offered, so a watching client gets at least one JPEG
    watched = serve.run_once("demo", 1, 300)
    alone = serve.run_once("demo", None, 300)
    assert watched["frames"] == alone["frames"] == 300 and watched["fps"] > 0
    assert watched["stream_bytes"] > 10_000 and alone["stream_bytes"] == 0


def test_alternate_flip_mirrors_odd_frames_only(fer_dir, tmp_path):
    from benchmarks import alternate_flip

    out = tmp_path / "af.json"
    assert alternate_flip.main(["--data", str(fer_dir), "--split", "val", "--labels", "fer2013", "--limit", "20",
                                "--frames", "4", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["faces"] == 20 and set(result["results"]) == {"single pass", "mirror every other frame",
                                                                "flip average every frame"}
    assert result["model_calls_per_frame"]["mirror every other frame"] == 1
