"""The mood report of an events file, and the live strip's timeline."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from emotion_dj.runtime.report import read_events, summary, write_report
from emotion_dj.runtime.tracking import MoodTimeline
from tests.conftest import ROOT

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def one_hot(name: str, strength: float = 0.9) -> dict:
    rest = (1 - strength) / (len(CLASSES) - 1)
    return {c: (strength if c == name else rest) for c in CLASSES}


def synthetic_events(path, seconds: float = 60.0, fps: float = 10.0) -> None:
    """Face 1: happy for the first 45 s, then sad. Face 2 (on screen 20-40 s): angry. One P press at 30 s."""
    with open(path, "w") as f:
        for i in range(int(seconds * fps)):
            t = i / fps
            faces = [{"id": 1, "box": [0, 0, 100, 100], "label": "x", "score": 0.9,
                      "probs": one_hot("happy" if t < 45 else "sad"), "raw": one_hot("happy" if t < 45 else "sad")}]
            if 20 <= t < 40:
                faces.append({"id": 2, "box": [200, 0, 50, 50], "label": "x", "score": 0.9,
                              "probs": one_hot("angry"), "raw": one_hot("angry")})
            f.write(json.dumps({"frame": i, "t": t, "detected": True, "faces": faces}) + "\n")
            if i == 300:
                f.write(json.dumps({"event": "mood_snapshot", "t": t, "face": 1, "mood": one_hot("happy"),
                                    "playlist_mood": "Feel Good", "started": True}) + "\n")
                f.write(json.dumps({"event": "playlist", "t": t + 2, "face": 1, "ok": True, "message": "ok"}) + "\n")


def test_dominant_expressions_and_shares_are_right(tmp_path):
    events = tmp_path / "e.jsonl"
    synthetic_events(events)
    result = write_report(events, tmp_path / "mood.png", tmp_path / "mood.json")
    assert result == json.loads((tmp_path / "mood.json").read_text())
    one, two = result["faces"]["1"], result["faces"]["2"]
    assert one["dominant"] == "happy" and abs(one["dominant_share"] - 0.75) < 0.01 and abs(one["shares"]["sad"] - 0.25) < 0.01
    assert two["dominant"] == "angry" and two["dominant_share"] == 1.0 and two["frames"] == 200
    assert list(result["faces"]) == ["1", "2"]  # by time on screen
    assert result["snapshots"][0]["playlist_mood"] == "Feel Good" and result["playlists"][0]["ok"] is True
    assert one["mean_valence"] > 0 > two["mean_valence"]


def test_the_picture_has_a_panel_per_face_and_a_summary(tmp_path):
    events = tmp_path / "e.jsonl"
    synthetic_events(events)
    write_report(events, tmp_path / "mood.png")
    picture = cv2.imread(str(tmp_path / "mood.png"))
    assert picture.shape[1] == 1100 and picture.shape[0] > 700  # three panels (two faces + summary)
    assert picture.std() > 30  # not blank
    # happy (yellow) fills face 1's panel early, sad (blue) late; angry (red) shows in face 2's
    yellow = (np.abs(picture.astype(int) - (40, 200, 250)).max(axis=2) < 30).sum()
    blue = (np.abs(picture.astype(int) - (220, 130, 40)).max(axis=2) < 30).sum()
    red = (np.abs(picture.astype(int) - (60, 60, 230)).max(axis=2) < 30).sum()
    assert yellow > 3 * blue > 0 and red > 1000
    for suffix in (".svg", ".html"):
        write_report(events, tmp_path / f"mood{suffix}")
        assert "<svg" in (tmp_path / f"mood{suffix}").read_text()


def test_long_runs_are_binned_not_kept(tmp_path):
    events = tmp_path / "e.jsonl"
    synthetic_events(events, seconds=3600, fps=2)
    timeline = read_events(events)
    assert timeline.bin_seconds >= 3600 / 2048 and timeline.faces[1].sums.shape[0] == 2048
    face = summary(timeline)["faces"]["1"]
    assert face["dominant"] == "sad" and abs(face["shares"]["happy"] - 45 / 3600) < 0.001


def report_cli(*args):
    return subprocess.run([sys.executable, "run_edge.py", "report", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("content, message", [(None, "events file not found"), ("", "is empty"),
                                              ("garbage\n{not json\n", "holds no frame records"),
                                              ('{"event": "x"}\n', "holds no frame records")])
def test_missing_empty_or_garbage_events_end_in_one_line(tmp_path, content, message):
    events = tmp_path / "e.jsonl"
    if content is not None:
        events.write_text(content)
    result = report_cli(str(events), "--out", str(tmp_path / "m.png"))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_partly_written_last_line_is_skipped_with_a_warning(tmp_path):
    events = tmp_path / "e.jsonl"
    synthetic_events(events, seconds=5)
    with open(events, "a") as f:
        f.write('{"frame": 50, "t": 5.0, "faces": [{"id": 1, "pro')
    result = report_cli(str(events), "--out", str(tmp_path / "m.png"))
    assert result.returncode == 0, result.stderr
    assert "incomplete" in result.stderr and "50 frames" in result.stdout


def test_a_run_writes_its_report_at_exit(tmp_path):
    result = subprocess.run([sys.executable, "run_edge.py", "--source", "demo", "--headless", "--engine", "onnx",
                             "--max-frames", "60", "--events", str(tmp_path / "e.jsonl"), "--report",
                             str(tmp_path / "mood.png")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(tmp_path / "mood.png")) is not None and "mood report" in result.stdout
    lines = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert all("raw" in face for line in lines for face in line.get("faces", []))


def test_the_timeline_keeps_the_last_30_seconds_in_order():
    timeline = MoodTimeline(classes=2, seconds=1.0, interval=0.25)  # 4 samples
    for step in range(10):
        timeline.update(step * 0.25, np.array([step, 0], np.float32))
    out = np.zeros_like(timeline.samples)
    assert timeline.ordered_into(out) == 4 and out[:, 0].tolist() == [6, 7, 8, 9]
    assert not timeline.update(2.3, None)  # not due yet
    assert timeline.update(2.5, None) and timeline.samples[(timeline.count - 1) % 4].sum() == 0
